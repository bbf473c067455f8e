"""numba's disk cache shared by parallel processes: no entry may name another signature's code.

Before the fix, the demo's parallel feature extraction left a cache under which librosa's
chroma_stft segfaulted in the next process (see emoforge.numba_cache)."""
import multiprocessing
import os
import subprocess
import sys
import time

import pandas as pd

from conftest import write_wav

WRITERS, KEYS = 6, 40


def _writer(cache_dir: str, worker: int, start: float, safe: bool) -> None:
    from numba.core.caching import IndexDataCacheFile

    if safe:
        from emoforge.numba_cache import install
        install()
    cache = IndexDataCacheFile(cache_dir, "kernel", "stamp")
    while time.time() < start:
        time.sleep(0.001)
    for key in range(KEYS):  # every writer saves its own signatures, as compiling processes do
        cache.save(("signature", worker, key), ("machine code of", worker, key))


def _race(cache_dir, safe: bool) -> dict:
    """Writers racing on one cache index; returns {key: what loading it gives}."""
    from numba.core.caching import IndexDataCacheFile

    cache_dir.mkdir()  # numba makes its cache folder before it saves
    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 3
    procs = [ctx.Process(target=_writer, args=(str(cache_dir), w, start, safe)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = IndexDataCacheFile(str(cache_dir), "kernel", "stamp")
    return {key: cache.load(key) for key in cache._load_index()}


def test_parallel_writers_never_cross_entries(tmp_path):
    """Every key written is in the index, and each loads its own data, never a neighbour's.
    numba's own save fails this (entries lost, and some name another key's file)."""
    from emoforge.numba_cache import install

    loaded = _race(tmp_path / "cache", safe=True)
    install()  # the loads below go through the safe loader too
    assert len(loaded) == WRITERS * KEYS
    for key, data in loaded.items():
        assert data == ("machine code of", *key[1:])


def test_a_cache_poisoned_by_numbas_own_numbering_is_not_loaded(tmp_path):
    """An entry saved the old way (numbered file) may hold another signature's code: recompile."""
    from numba.core.caching import IndexDataCacheFile

    from emoforge.numba_cache import data_name, install

    install()
    cache = IndexDataCacheFile(str(tmp_path), "kernel", "stamp")
    cache._save_data(cache._data_name(1), ("machine code of", "float32"))
    cache._save_index({("signature", "float64"): cache._data_name(1)})  # what the race left behind
    assert cache.load(("signature", "float64")) is None
    cache.save(("signature", "float64"), ("machine code of", "float64"))
    assert cache.load(("signature", "float64")) == ("machine code of", "float64")
    assert cache._load_index()[("signature", "float64")] == data_name(cache, ("signature", "float64"))


READER = """
import numpy as np
from emoforge.features.audio import MelConfig, VECTORS, log_mel, mfcc_stats
import librosa
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    y = rng.standard_normal(22050).astype(dtype)
    librosa.feature.zero_crossing_rate(y=y)
    librosa.feature.spectral_rolloff(y=y, sr=22050, roll_percent=0.01)
    librosa.feature.chroma_stft(y=y, sr=22050)
    librosa.effects.pitch_shift(librosa.effects.time_stretch(y, rate=0.8), sr=22050, n_steps=0.7)
    log_mel(y.astype(np.float32), MelConfig())
    mfcc_stats(y.astype(np.float32), MelConfig())
print("reader ok")
"""


EXTRACT = """
import sys
from pathlib import Path
from emoforge.features.audio import MelConfig
from emoforge.features.extract import extract_audio, extract_vectors
index, root, out, kind = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
if kind == "logmel":
    extract_audio(index, root, out, MelConfig(), workers=2)
else:
    extract_vectors(index, root, out, MelConfig(), tuple(kind.split(",")), workers=2)
"""


def test_features_from_parallel_workers_leave_a_cache_the_next_process_can_use(tmp_path):
    """Three feature jobs at once, as Snakemake runs them, each with two worker processes, compile
    into a fresh cache; then a new process (plain librosa too) computes the same features on
    that cache. With stock numba 0.68.1 the new process segfaulted in 4 of 5 tries of this (a race:
    not every time); test_a_gufunc_wrapper_... reproduces the cause deterministically."""
    from emoforge.corpora.base import Item, probe_audio, write_index
    cache = tmp_path / "numba_cache"
    items = []
    for i in range(8):
        rel = f"a/clip{i}.wav"
        write_wav(tmp_path / "corpus" / rel, seconds=1.0 + 0.25 * i, sr=16000 if i % 2 else 22050)
        item = Item(item_id=f"c/{i}", corpus="c", path=rel, modality="audio", speaker=str(i % 2),
                    split_group=str(i % 2), emotion="happy")
        items.append(probe_audio(tmp_path / "corpus" / rel, item))
    write_index(items, tmp_path / "index.parquet")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    jobs = [subprocess.Popen([sys.executable, "-c", EXTRACT, str(tmp_path / "index.parquet"),
                              str(tmp_path / "corpus"), str(tmp_path / f"features_{k}"), kind],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for k, kind in enumerate(("logmel", "mfcc_stats,r3_mfcc259", "r2_frames848"))]
    for job in jobs:
        _, err = job.communicate(timeout=600)
        assert job.returncode == 0, err[-3000:]
    assert len(pd.read_parquet(tmp_path / "features_2" / "r2_frames848.parquet")) == 8
    assert any(cache.rglob("*.nbi")), "the workers compiled nothing into the cache"
    reader = subprocess.run([sys.executable, "-c", READER], env=env, capture_output=True, text=True)
    assert reader.returncode == 0, f"reader died with {reader.returncode}: {reader.stderr[-3000:]}"
    assert "reader ok" in reader.stdout


GUFUNC_PAIR = """
import sys
import numpy as np
if sys.argv[1] == "safe":
    from emoforge.numba_cache import install
    install()
from numba import guvectorize
from kernel import first


explicit = guvectorize(["(f8[:], f8[:])"], "(n)->(n)", cache=True)(first)
dynamic = guvectorize("(n)->(n)", cache=True)(first)
out = np.zeros(3)
dynamic(np.full(3, 7.0), out)
print("first", out[0])
"""


def test_a_gufunc_wrapper_is_never_loaded_beside_a_kernel_it_was_not_built_for(tmp_path):
    """numba issue #10128: a gufunc's kernel and its wrapper are cached apart, and the wrapper
    calls the kernel by a name with a per-process counter in it. Two gufuncs over one function
    in one process are enough to pair a wrapper with the wrong kernel: pinned numba crashes."""
    (tmp_path / "kernel.py").write_text("def first(x, out):\n    out[0] = x[0]\n")
    (tmp_path / "pair.py").write_text(GUFUNC_PAIR)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}

    def pair(mode):
        return subprocess.run([sys.executable, str(tmp_path / "pair.py"), mode], env=env,
                              cwd=tmp_path, capture_output=True, text=True)

    stock = pair("stock")
    assert stock.returncode != 0, "stock numba no longer crashes here: is the patch still needed?"
    for run in range(2):  # the second run loads everything the first one cached
        safe = pair("safe")
        assert safe.returncode == 0, f"run {run} died with {safe.returncode}: {safe.stderr[-2000:]}"
        assert "first 7.0" in safe.stdout
