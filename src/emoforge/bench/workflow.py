"""`make bench-workflow`: what the workflow costs before any job runs. A dry run of the full
real-corpora graph (config/papers.yaml) in a scratch copy of the workflow, timed from outside
with its peak memory, a few times.

    python -m emoforge.bench.workflow --out reports/benchmarks/workflow.json
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import bench_row, run_child, write

WORKFLOW_FILES = ("Snakefile", "params.yaml", "workflow", "config")


def dry_run_rows(repo: Path, configfile: str, repeats: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as scratch:
        for name in WORKFLOW_FILES:
            source = repo / name
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, Path(scratch) / name)
        command = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", configfile,
                   "--directory", scratch, "--snakefile", str(Path(scratch) / "Snakefile")]
        runs = [run_child(command) for _ in range(repeats)]
        listing = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    jobs = re.search(r"^total\s+(\d+)", listing, re.MULTILINE)
    protocol = f"snakemake -n --configfile {configfile} ({jobs.group(1) if jobs else '?'} jobs)"
    wall = sum(r["outside_s"] for r in runs)
    return [bench_row("workflow", "all", "dry_run", protocol, "wall_s", [r["outside_s"] for r in runs], wall),
            bench_row("workflow", "all", "dry_run", protocol, "peak_rss_mb", [r["peak_rss_mb"] for r in runs],
                      wall)]


NOTES = ["`python -m emoforge.bench.workflow` (`make bench-workflow`): a fresh `snakemake` process",
         "per run, timed from outside (interpreter start, workflow parse, config validation, DAG)."]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/workflow.json"))
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--configfile", default="config/papers.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = dry_run_rows(args.repo.resolve(), args.configfile, args.repeats)
    write(rows, args.out, "Workflow overhead", NOTES)
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
