"""Numba's on-disk cache, made safe for several processes writing it at once.

librosa compiles its kernels with numba and caches them on disk (NUMBA_CACHE_DIR). numba
0.68 saves a compiled signature by reading the cache index, taking the first data-file
number the index does not name, writing the index, then the data file. Two processes that
compile different signatures of one function at the same time (the feature pool does) can
take the same number: the index then names one signature's file while the file holds the
other signature's machine code, and the next process that loads it runs the wrong code.
That is how `chroma_stft` segfaulted in a test run after the demo had extracted features.

`install()` replaces numba's save and load for the whole process:
- each data file is named after a hash of its index key (signature, CPU, bytecode), so two
  signatures can never share a file, whatever the timing;
- the data is written before the index names it, under an exclusive lock on the index, so
  no writer's entry is lost and no reader finds an entry without its file;
- an index entry whose file is not named after its key (numba's own numbering, as left by an
  older run) is not trusted: the signature is compiled again and saved the safe way, so a
  cache poisoned before this fix heals itself.
"""
from __future__ import annotations

import contextlib
import hashlib

_installed = False


def data_name(cache_file, key) -> str:
    """The data file of one index key: the key's hash in numba's file-name pattern."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
    return cache_file._data_name_pattern.replace("{number:d}", digest)


@contextlib.contextmanager
def _index_lock(index_path: str):
    try:
        import fcntl
    except ImportError:  # no POSIX locks: hashed names alone still keep every entry right
        yield
        return
    with open(index_path + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save(self, key, data) -> None:
    name = data_name(self, key)
    with _index_lock(self._index_path):
        self._save_data(name, data)
        overloads = self._load_index()
        overloads[key] = name
        self._save_index(overloads)


def _load(self, key):
    name = self._load_index().get(key)
    if name != data_name(self, key):
        return None
    try:
        return self._load_data(name)
    except OSError:
        return None


def install() -> None:
    """Patch numba's cache file class once per process (before anything is compiled or loaded)."""
    global _installed
    if _installed:
        return
    from numba.core.caching import IndexDataCacheFile

    needed = ("_load_index", "_save_index", "_load_data", "_save_data", "_data_name_pattern", "_index_path")
    probe = IndexDataCacheFile("/nonexistent", "probe", None)  # __init__ only stores names
    missing = [name for name in needed if not hasattr(probe, name)]
    if missing:
        raise RuntimeError(f"this numba's cache has no {missing}: emoforge cannot make its disk cache safe "
                           "for parallel jobs; install the numba version pinned in pyproject.toml")
    IndexDataCacheFile.save = _save
    IndexDataCacheFile.load = _load
    _installed = True


def import_librosa():
    """librosa, with numba's disk cache made safe first: every emoforge use of librosa goes here."""
    install()
    import librosa
    return librosa
