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


SLOT_DIR = Path(".emoforge-gpu-slots")
_held: list = []  # open lock files: a slot is this process's until it ends


def take_gpu_slot(gpus: int | None = None, slot_dir: Path = SLOT_DIR, poll_s: float = 0.5) -> int | None:
    """Give this job a GPU of its own: the first free slot among the machine's GPUs, held by an
    exclusive lock on slot_dir/gpu<N>.lock and exported as CUDA_VISIBLE_DEVICES.

    `--resources gpu=N` only limits how many GPU jobs Snakemake runs at once; without this
    they would all land on cuda:0. The kernel drops the lock when the process ends, a crash
    or SIGKILL included, so a slot is never left taken. Nothing happens when the scheduler
    has already chosen (CUDA_VISIBLE_DEVICES set, as SLURM does) or there is no GPU."""
    import fcntl
    import time

    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    gpus = nvidia_gpu_count() if gpus is None else gpus
    if gpus == 0:
        return None
    slot_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(gpus):
            lock = open(slot_dir / f"gpu{slot}.lock", "a+")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            _held.append(lock)
            os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
            return slot
        time.sleep(poll_s)
