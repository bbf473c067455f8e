"""Downloads against a local HTTP server (Range-capable), checksums, resume, unsafe archives."""
import hashlib
import io
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emoforge.download import DownloadError, Remote, UnsafeArchiveError, download, fetch_and_extract, safe_extract


class RangeHandler(SimpleHTTPRequestHandler):
    ranges_seen: list = []
    honour_range = True

    def log_message(self, *a):
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        if not rng or not RangeHandler.honour_range:
            return super().do_GET()
        RangeHandler.ranges_seen.append(rng)
        data = (self.directory_path / self.path.lstrip("/")).read_bytes()
        start = int(rng.split("=")[1].split("-")[0])
        if start >= len(data):
            self.send_response(416); self.end_headers(); return
        self.send_response(206)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    handler = partial(RangeHandler, directory=str(site))
    RangeHandler.directory_path = site
    RangeHandler.ranges_seen = []
    RangeHandler.honour_range = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield site, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_download_verifies_and_resumes_a_partial_file(server, tmp_path):
    site, url = server
    payload = bytes(range(256)) * 4000
    (site / "corpus.zip").write_bytes(payload)
    remote = Remote(f"{url}/corpus.zip", "corpus.zip", sha256=hashlib.sha256(payload).hexdigest())
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "corpus.zip.part").write_bytes(payload[:300_000])  # an interrupted earlier attempt
    path = download(remote, dest)
    assert path.read_bytes() == payload
    assert RangeHandler.ranges_seen == ["bytes=300000-"]
    assert not (dest / "corpus.zip.part").exists()


def test_checksum_mismatch_is_an_error_and_keeps_the_bytes(server, tmp_path):
    site, url = server
    (site / "x.zip").write_bytes(b"not what you expected")
    with pytest.raises(DownloadError, match="failed its checksum"):
        download(Remote(f"{url}/x.zip", "x.zip", md5="0" * 32), tmp_path)
    assert (tmp_path / "x.zip.bad").read_bytes() == b"not what you expected"
    assert not (tmp_path / "x.zip").exists()


def test_http_error_is_reported(server, tmp_path):
    _, url = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(Remote(f"{url}/missing.zip", "missing.zip", md5="0" * 32), tmp_path)


def test_file_url_and_extraction(tmp_path):
    data = make_zip({"Actor_01/a.txt": b"hello"})
    (tmp_path / "src.zip").write_bytes(data)
    remote = Remote((tmp_path / "src.zip").as_uri(), "src.zip", md5=hashlib.md5(data).hexdigest())
    out = fetch_and_extract(remote, tmp_path / "raw")
    assert (out / "Actor_01" / "a.txt").read_bytes() == b"hello"


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_zip_with_escaping_path_is_refused_whole(tmp_path, name):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(make_zip({"fine.txt": b"x", name: b"y"}))
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()  # nothing extracted before the refusal
    assert not (tmp_path / "evil.txt").exists()


def test_tar_with_escaping_symlink_is_refused(tmp_path):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as t:
        link = tarfile.TarInfo("data/link"); link.type = tarfile.SYMTYPE; link.linkname = "../../etc/passwd"
        t.addfile(link)
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "out")


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    site, url = server
    payload = b"0123456789" * 5000
    (site / "c.zip").write_bytes(payload)
    RangeHandler.honour_range = False
    (tmp_path / "c.zip.part").write_bytes(b"stale partial bytes")
    path = download(Remote(f"{url}/c.zip", "c.zip", md5=hashlib.md5(payload).hexdigest()), tmp_path)
    assert path.read_bytes() == payload  # not the stale prefix followed by the whole file


def test_part_file_already_complete_is_accepted(server, tmp_path):
    site, url = server
    payload = b"x" * 1000
    (site / "d.zip").write_bytes(payload)
    (tmp_path / "d.zip.part").write_bytes(payload)  # interrupted after the last byte, before the rename
    path = download(Remote(f"{url}/d.zip", "d.zip", sha256=hashlib.sha256(payload).hexdigest()), tmp_path)
    assert path.read_bytes() == payload and RangeHandler.ranges_seen == ["bytes=1000-"]


def _tar_member(name, kind=tarfile.REGTYPE, linkname=""):
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, linkname
    return member


@pytest.mark.parametrize("member", [
    _tar_member("../evil.txt"), _tar_member("/abs/evil.txt"), _tar_member("ok/../../evil.txt"),
    _tar_member("data/hard", tarfile.LNKTYPE, "../../etc/passwd"),
    _tar_member("data/abs_link", tarfile.SYMTYPE, "/etc/passwd"),
], ids=["dotdot", "absolute", "nested-dotdot", "hardlink-out", "absolute-symlink"])
def test_tar_members_escaping_their_folder_are_refused_whole(tmp_path, member):
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        fine = _tar_member("fine.txt")
        fine.size = 1
        t.addfile(fine, io.BytesIO(b"x"))
        t.addfile(member, io.BytesIO(b""))
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()  # refused before anything was written
    assert not (tmp_path / "evil.txt").exists()
