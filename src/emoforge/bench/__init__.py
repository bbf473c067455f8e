"""Benchmarks: each measurement runs in a fresh child process, so that its wall time and peak
memory are its own; results are rows in the reports/metrics.json format plus wall_s and device,
written as JSON and as a Markdown table under reports/benchmarks/."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from ..report.build import row


def machine() -> str:
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run a command; return its last stdout line as JSON (if any) plus the wall time seen from
    outside and the child's peak resident memory in MB (from wait4, so its own, not a sum)."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, **(env or {})})
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    outside_s = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"benchmark step failed (exit {child.returncode}): {' '.join(args)}")
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return {**result, "outside_s": outside_s, "peak_rss_mb": usage.ru_maxrss / 1024}


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
