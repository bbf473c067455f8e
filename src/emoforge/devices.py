"""What accelerators this machine has, answered without importing torch: the workflow asks
while it parses, and `import torch` alone took ~1.5 s of every `snakemake` call."""
from __future__ import annotations

import os
from pathlib import Path

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


def nvidia_gpu_count() -> int:
    """GPUs the NVIDIA driver exposes, narrowed by CUDA_VISIBLE_DEVICES as CUDA narrows them
    (the list stops at its first invalid entry, e.g. -1)."""
    count = len(list(NVIDIA_PROC.iterdir())) if NVIDIA_PROC.is_dir() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return count
    usable = 0
    for entry in visible.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        usable += 1
    return min(count, usable)
