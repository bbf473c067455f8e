"""Benchmarks: each measurement runs in a fresh child process, so that its wall time and peak
memory are its own; results are rows in the reports/metrics.json format plus wall_s and device,
written as JSON and as a Markdown table under reports/benchmarks/."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from ..report.build import row


def machine() -> str:
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


# A small interpreter runs each measured command: ru_maxrss survives fork and exec, so a child
# forked straight from this (large) process would report this process's memory as its own.
MEASURER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
sys.stdout.write(out)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "outside_s": time.perf_counter() - started,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run a command; return its last stdout line as JSON (if any) plus the wall time seen from
    outside and the command's own peak resident memory in MB."""
    done = subprocess.run([sys.executable, "-c", MEASURER, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    lines = done.stdout.strip().splitlines()
    measured = json.loads(lines[-1])
    if measured["exit"] != 0:
        raise RuntimeError(f"benchmark step failed (exit {measured['exit']}): {' '.join(args)}")
    result = json.loads(lines[-2]) if len(lines) > 1 and lines[-2].startswith("{") else {}
    return {**result, "outside_s": measured["outside_s"], "peak_rss_mb": measured["peak_rss_mb"]}


def python_child(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *map(str, args)]


def bench_row(task, corpus, variant, protocol, metric, values, wall_s) -> dict:
    return {**row(task, corpus, variant, protocol, metric, values), "wall_s": round(wall_s, 2),
            "device": machine()}


def write(rows: list[dict], out: Path, title: str, notes: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    table = ["| corpus | variant | protocol | metric | mean | std | n | wall s |", "|---|---|---|---|---|---|---|---|"]
    table += [f"| {r['corpus']} | {r['variant']} | {r['protocol']} | {r['metric']} | {r['mean']:g} | "
              f"{r['std']:g} | {r['folds']} | {r['wall_s']:g} |" for r in rows]
    lines = [f"# {title}", "", f"Device: {machine()}.", "", *notes, "", *table]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
