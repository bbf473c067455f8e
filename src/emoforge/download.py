"""Resumable, checksummed downloads and archive extraction that refuses escaping paths."""
from __future__ import annotations

import hashlib
import logging
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    pass


class UnsafeArchiveError(DownloadError):
    pass


@dataclass(frozen=True)
class Remote:
    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: Remote) -> None:
    if remote.size is not None and path.stat().st_size != remote.size:
        raise DownloadError(f"{path.name}: size {path.stat().st_size} != expected {remote.size}")
    for algo in ("sha256", "md5"):
        want = getattr(remote, algo)
        if want and (got := file_digest(path, algo)) != want.lower():
            raise DownloadError(f"{path.name}: {algo} {got} != expected {want}")


def download(remote: Remote, dest_dir: Path, timeout: float = 60) -> Path:
    """Fetch remote into dest_dir; a partial `.part` file is resumed, never restarted silently.

    A finished file that fails its checksum is moved aside as `.bad` (kept for inspection)
    and the error says so.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / remote.filename
    if final.exists():
        verify(final, remote)
        return final
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(remote.url, headers={"User-Agent": "emoforge"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range past the end: the part file is already whole
            resp = None
        else:
            raise DownloadError(f"{remote.url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"{remote.url}: {e}") from e
    if resp is not None:
        with resp:
            status = getattr(resp, "status", None)
            resumed = have and status == 206
            if have and not resumed:
                log.warning("%s: server ignored the resume request; fetching from the start", remote.filename)
                have = 0
            if have:
                log.info("%s: resuming at byte %d", remote.filename, have)
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length else remote.size
            with open(part, "ab" if have else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=remote.filename
            ) as bar:
                while block := resp.read(CHUNK):
                    out.write(block)
                    bar.update(len(block))
    try:
        verify(part, remote)
    except DownloadError:
        bad = final.with_name(final.name + ".bad")
        part.replace(bad)
        raise DownloadError(f"{remote.filename} failed its checksum; the bytes are kept in {bad}") from None
    part.replace(final)
    return final


def _check_member(name: str, dest: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    target = (dest / p).resolve()
    if p.is_absolute() or ".." in p.parts or not target.is_relative_to(dest.resolve()):
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside {dest}; refusing the archive")


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract a zip or tar archive; refuse the whole archive if any member escapes dest."""
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            for n in names:
                _check_member(n, dest)
            for info in tqdm(z.infolist(), desc=f"extract {archive.name}", unit="file"):
                z.extract(info, dest)
        return names
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = t.getmembers()
            for m in members:
                _check_member(m.name, dest)
                if m.issym() or m.islnk():
                    _check_member(str(PurePosixPath(m.name).parent / m.linkname), dest)
                if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                    raise UnsafeArchiveError(f"archive member {m.name!r} is a device or fifo; refusing the archive")
            t.extractall(dest, members=members, filter="data")
        return [m.name for m in members]
    raise DownloadError(f"{archive} is neither a zip nor a tar archive")


def fetch_and_extract(remote: Remote, dest: Path) -> Path:
    """Download into dest/.downloads, extract into dest, mark done with a stamp file."""
    stamp = dest / f".{remote.filename}.extracted"
    if stamp.exists():
        return dest
    archive = download(remote, dest / ".downloads")
    safe_extract(archive, dest)
    stamp.write_text(remote.url + "\n")
    return dest

