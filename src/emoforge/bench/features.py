"""`make bench-features`: the files -> features stage against plain one-process loops, on the
same files in one run.

Each step runs in its own child process; its clock starts after the imports (and, for the
librosa loop, after numba's first call), so the rows compare the work, not the start-up; the
whole `emoforge features` job is timed from outside as well. Peak memory is the child's own.

    python -m emoforge.bench.features --out reports/benchmarks/features.json \
        --ravdess-16k ../shared/data/ravdess-16k --ravdess-48k ../shared/data/ravdess-48k
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import bench_row, python_child, run_child, write

CHILD = "emoforge.bench.features"
VECTOR_NAMES = ("mfcc_stats", "r3_mfcc259", "egemaps", "compare")


def _paths(index: str, root: str, limit: str) -> list[Path]:
    from ..corpora import read_index
    from ..corpora.base import item_path

    items = read_index(Path(index))
    rels = items[items["modality"] == "audio"]["path"].head(int(limit) or None)
    return [item_path(Path(root), rel) for rel in rels]


def _limited_index(index: str, limit: str, out_dir: Path) -> Path:
    """The first `limit` items of an index, as an index file of their own."""
    if not int(limit):
        return Path(index)
    limited = out_dir / "index.parquet"
    pd.read_parquet(index).head(int(limit)).to_parquet(limited, index=False)
    return limited


def plain_logmel(index: str, root: str, limit: str = "0") -> dict:
    """The simplest loop: read, (resample,) mel power, log; one file after another."""
    from ..features.audio import MelConfig, load_audio, log_mel

    cfg = MelConfig()
    paths = _paths(index, root, limit)
    log_mel(np.zeros(cfg.sample_rate, dtype=np.float32), cfg)  # numba compiles or loads here
    started = time.perf_counter()
    for path in paths:
        log_mel(load_audio(path, cfg.sample_rate), cfg)
    return {"clips": len(paths), "wall_s": time.perf_counter() - started}


def engine_logmel(index: str, root: str, threads: str, limit: str = "0") -> dict:
    """extract_audio whole: files -> shards + manifest."""
    import torch  # noqa: F401  imported before the clock starts, as librosa is for the loop

    from ..features.audio import MelConfig
    from ..features.extract import extract_audio

    with tempfile.TemporaryDirectory() as scratch:
        index_path = _limited_index(index, limit, Path(scratch))
        started = time.perf_counter()
        manifest = extract_audio(index_path, Path(root), Path(scratch) / "features", MelConfig(),
                                 workers=int(threads))
        return {"clips": len(manifest), "wall_s": time.perf_counter() - started}


def plain_vector(name: str, index: str, root: str, limit: str) -> dict:
    from ..features.audio import VECTORS, MelConfig, load_audio

    cfg = MelConfig()
    paths = _paths(index, root, limit)
    VECTORS[name](paths[0], load_audio(paths[0], cfg.sample_rate), cfg)  # first-call set-up
    started = time.perf_counter()
    for path in paths:
        VECTORS[name](path, load_audio(path, cfg.sample_rate), cfg)
    return {"clips": len(paths), "wall_s": time.perf_counter() - started}


def engine_vector(name: str, index: str, root: str, threads: str, limit: str) -> dict:
    from ..features.audio import VECTORS, MelConfig, load_audio
    from ..features.extract import extract_vectors

    cfg = MelConfig()
    first = _paths(index, root, "1")[0]
    VECTORS[name](first, load_audio(first, cfg.sample_rate), cfg)  # the same set-up as the loop
    with tempfile.TemporaryDirectory() as scratch:
        index_path = _limited_index(index, limit, Path(scratch))
        started = time.perf_counter()
        extract_vectors(index_path, Path(root), Path(scratch), cfg, (name,), workers=int(threads))
        clips = len(pd.read_parquet(Path(scratch) / f"{name}.parquet", columns=["item_id"]))
        return {"clips": clips, "wall_s": time.perf_counter() - started}


STEPS = {"plain_logmel": plain_logmel, "engine_logmel": engine_logmel,
         "plain_vector": plain_vector, "engine_vector": engine_vector}


def _index(root: Path, out: Path) -> Path:
    from ..corpora import corpus_type, write_index

    corpus = corpus_type("ravdess", {})
    write_index(corpus.index(root, {}, corpus="ravdess"), out)
    return out


def _repeated(index: Path, times: int, out: Path) -> Path:
    """The same files listed `times` times, as a corpus `times` as large."""
    items = pd.read_parquet(index)
    copies = [items.assign(item_id=items["item_id"] + f"#{k}") for k in range(times)]
    pd.concat(copies, ignore_index=True).to_parquet(out, index=False)
    return out


def _measure(step: str, repeats: int, *args) -> list[dict]:
    return [run_child(python_child(CHILD, step, *args)) for _ in range(repeats)]


def logmel_rows(corpus: str, index: Path, root: Path, repeats: int, threads: int) -> list[dict]:
    plain = _measure("plain_logmel", repeats, index, root)
    engine = _measure("engine_logmel", repeats, index, root, threads)
    clips = plain[0]["clips"]
    protocol = f"{clips} files, log-mel 64 at 16 kHz, {threads} threads"
    rows = []
    for variant, runs in (("plain_loop", plain), ("engine", engine)):
        wall = sum(r["wall_s"] for r in runs)
        rows.append(bench_row("features", corpus, variant, protocol, "clips_per_s",
                              [r["clips"] / r["wall_s"] for r in runs], wall))
        rows.append(bench_row("features", corpus, variant, protocol, "peak_rss_mb",
                              [r["peak_rss_mb"] for r in runs], wall))
    speedups = [p["wall_s"] / e["wall_s"] for p, e in zip(plain, engine)]
    rows.append(bench_row("features", corpus, "engine", protocol, "speedup", speedups,
                          sum(r["wall_s"] for r in plain + engine)))
    return rows


def job_rows(corpus: str, index: Path, root: Path, repeats: int, threads: int, scratch: Path) -> list[dict]:
    """The whole `emoforge features` job as Snakemake runs it: start-up and imports included."""
    job = [sys.executable, "-m", "emoforge.cli", "features", "--corpus", "ravdess", "--index", str(index),
           "--root", str(root), "--out-dir", str(scratch / "job"), "--threads", str(threads)]
    runs = [run_child(job) for _ in range(repeats)]
    protocol = f"whole job incl. start-up, {threads} threads"
    wall = sum(r["outside_s"] for r in runs)
    return [bench_row("features", corpus, "engine", protocol, "job_wall_s", [r["outside_s"] for r in runs], wall),
            bench_row("features", corpus, "engine", protocol, "peak_rss_mb", [r["peak_rss_mb"] for r in runs], wall)]


def memory_rows(index: Path, root: Path, threads: int, scratch: Path) -> list[dict]:
    """Peak memory of the engine on the corpus once and listed four times."""
    rows = []
    for times in (1, 4):
        listed = _repeated(index, times, scratch / f"index_x{times}.parquet")
        run = run_child(python_child(CHILD, "engine_logmel", listed, root, threads))
        protocol = f"{run['clips']} files ({times}x the corpus), {threads} threads"
        rows.append(bench_row("features", "ravdess-16k", "engine", protocol, "peak_rss_mb",
                              [run["peak_rss_mb"]], run["wall_s"]))
    return rows


def vector_rows(index: Path, root: Path, threads: int, limit: int) -> list[dict]:
    rows = []
    for name in VECTOR_NAMES:
        plain = run_child(python_child(CHILD, "plain_vector", name, index, root, limit))
        engine = run_child(python_child(CHILD, "engine_vector", name, index, root, threads, limit))
        protocol = f"{plain['clips']} files, {name}, {threads} workers"
        for variant, run in (("plain_loop", plain), ("engine", engine)):
            rows.append(bench_row("features", "ravdess-16k", variant, protocol, "clips_per_s",
                                  [run["clips"] / run["wall_s"]], run["wall_s"]))
        rows.append(bench_row("features", "ravdess-16k", "engine", protocol, "speedup",
                              [plain["wall_s"] / engine["wall_s"]], plain["wall_s"] + engine["wall_s"]))
    return rows


NOTES = [
    "`python -m emoforge.bench.features` (`make bench-features`). Each step is a fresh process;",
    "its clock starts after imports and first-call set-up. plain_loop = one process reading each",
    "file (soundfile, soxr to 16 kHz when needed) and calling librosa / openSMILE on it; engine =",
    "`extract_audio` / `extract_vectors` as the workflow runs them, files to shards and manifest.",
    "`job_wall_s` is the whole `emoforge features` command, start-up and imports included.",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/features.json"))
    parser.add_argument("--ravdess-16k", type=Path, required=True)
    parser.add_argument("--ravdess-48k", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vector-files", type=int, default=240,
                        help="files for the vector features (ComParE takes ~0.1 s a file)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-features-"))
    try:
        index_16k = _index(args.ravdess_16k, scratch / "ravdess-16k.parquet")
        rows = logmel_rows("ravdess-16k", index_16k, args.ravdess_16k, args.repeats, args.threads)
        if args.ravdess_48k:
            index_48k = _index(args.ravdess_48k, scratch / "ravdess-48k.parquet")
            rows += logmel_rows("ravdess-48k", index_48k, args.ravdess_48k, args.repeats, args.threads)
        rows += job_rows("ravdess-16k", index_16k, args.ravdess_16k, args.repeats, args.threads, scratch)
        rows += memory_rows(index_16k, args.ravdess_16k, args.threads, scratch)
        rows += vector_rows(index_16k, args.ravdess_16k, args.threads, args.vector_files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write(rows, args.out, "Feature extraction: engine vs plain loops", NOTES)
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        print(json.dumps(STEPS[sys.argv[1]](*sys.argv[2:])))
    else:
        main()
