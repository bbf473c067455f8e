"""`make bench-ser-small`: the SER defaults on a small corpus read through the manifest route.

A CSV (path, emotion, speaker, gender) over ten RAVDESS actors without calm, 520 clips: about
the size of a corpus a user records themselves. config/bench_small.yaml trains every log-mel
network, the functionals and both fusions on it (5 speaker folds), with no setting made for it.

    python -m emoforge.bench.small_corpus --ravdess ../shared/data/ravdess-16k --out data/small/small.csv
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..corpora import REGISTRY

ACTORS = tuple(f"{a:02d}" for a in range(15, 25))


def write_manifest(ravdess: Path, out: Path, actors=ACTORS, drop=("calm",)) -> int:
    """The CSV for the manifest corpus; returns how many clips it lists."""
    items = [i for i in REGISTRY["ravdess"].index(ravdess, {})
             if i.status == "ok" and i.speaker in actors and i.emotion not in drop]
    if not items:
        raise FileNotFoundError(f"{ravdess}: no RAVDESS clips of actors {actors[0]}-{actors[-1]}")
    table = pd.DataFrame({"path": [str((ravdess / i.path).resolve()) for i in items],
                          "emotion": [i.emotion for i in items],
                          "speaker": [f"S{i.speaker}" for i in items],
                          "gender": [i.gender for i in items]})
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return len(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", type=Path, required=True, help="a RAVDESS copy (Actor_* folders)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"{args.out}: {write_manifest(args.ravdess, args.out)} clips")


if __name__ == "__main__":
    main()
