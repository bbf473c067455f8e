"""Numba's on-disk cache, made safe for several processes writing it at once.

librosa compiles its kernels with numba and caches them on disk (NUMBA_CACHE_DIR). The demo's
parallel feature extraction left caches under which librosa's `chroma_stft` segfaulted in
the next process (CI, twice). numba 0.68 has two races there:

1. Index numbering. A save reads the cache index, takes the first data-file number the index
   does not name, then writes the index and the data file. Two processes saving different
   signatures of one function can take the same number: the index then names one
   signature's file while the file holds the other's machine code.
2. gufunc kernel and wrapper (numba issue #10128). A `guvectorize` function is cached as two
   entries: the kernel and a wrapper that calls the kernel by its symbol name. That name
   carries a per-process counter (`abi:v<N>`), so a kernel cached by one process and a
   wrapper cached by another disagree on it, and the wrapper jumps to a null pointer. One
   process defining two gufuncs over one Python function hits it too.

`install()` patches numba for the whole process:
- each data file is named after a hash of its index key (signature, CPU, bytecode), so two
  signatures never share a file; the data is written before the index names it, under an
  exclusive lock on the index, so no writer's entry is lost and no reader finds an entry
  without its file;
- an index entry whose file is not named after its key (numba's numbering, as left by an
  older run) is not trusted: it is compiled again and saved the safe way;
- a gufunc wrapper's cache key includes the kernel symbol it calls, so a wrapper is only
  loaded next to the kernel it was built for; any other pairing is a miss and is rebuilt.
Old caches heal themselves: none of their entries match the new keys.
"""
from __future__ import annotations

import hashlib

from filelock import FileLock

_installed = False


def data_name(cache_file, key) -> str:
    """The data file of one index key: the key's hash in numba's file-name pattern."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
    return cache_file._data_name_pattern.replace("{number:d}", digest)


def _save(self, key, data) -> None:
    name = data_name(self, key)
    with FileLock(self._index_path + ".lock"):
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


class _KernelBoundCache:
    """A gufunc wrapper's cache whose keys carry the symbol of the kernel the wrapper calls."""

    def __init__(self, cache, kernel_symbol: str):
        self._cache = cache
        self._kernel_symbol = kernel_symbol

    def load_overload(self, sig, target_context):
        return self._cache.load_overload((sig, self._kernel_symbol), target_context)

    def save_overload(self, sig, data) -> None:
        self._cache.save_overload((sig, self._kernel_symbol), data)


def _bind_wrapper_cache_to_kernel(wrapper_class) -> None:
    from numba.core.caching import NullCache

    original_init = wrapper_class.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if not isinstance(self.cache, (NullCache, _KernelBoundCache)):
            self.cache = _KernelBoundCache(self.cache, self.fndesc.mangled_name)

    wrapper_class.__init__ = init


def install() -> None:
    """Patch numba's cache once per process (before anything is compiled or loaded)."""
    global _installed
    if _installed:
        return
    from numba.core.caching import IndexDataCacheFile
    from numba.np.ufunc.wrappers import _GufuncWrapper

    needed = ("_load_index", "_save_index", "_load_data", "_save_data", "_data_name_pattern", "_index_path")
    probe = IndexDataCacheFile("/nonexistent", "probe", None)  # __init__ only stores names
    missing = [name for name in needed if not hasattr(probe, name)]
    if missing:
        raise RuntimeError(f"this numba's cache has no {missing}: emoforge cannot make its disk cache safe "
                           "for parallel jobs; install the numba version pinned in pyproject.toml")
    IndexDataCacheFile.save = _save
    IndexDataCacheFile.load = _load
    _bind_wrapper_cache_to_kernel(_GufuncWrapper)
    _installed = True


def import_librosa():
    """librosa, with numba's disk cache made safe first: every emoforge use of librosa goes here."""
    install()
    import librosa
    return librosa
