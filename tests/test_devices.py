"""GPU slots on one workstation, tested on CPU: each job gets a GPU of its own, waits when all
are taken, and a crashed job's slot is free again."""
import os
import signal
import subprocess
import sys
import time

import pytest

from emoforge.devices import nvidia_gpu_count, take_gpu_slot

HOLDER = """
import os, sys, time
from pathlib import Path
from emoforge.devices import take_gpu_slot
slot = take_gpu_slot(gpus=int(sys.argv[1]), slot_dir=Path(sys.argv[2]), poll_s=0.05)
print(slot, os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
time.sleep(float(sys.argv[3]))
"""


def _holder(slot_dir, gpus=2, hold_s=60.0):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(gpus), str(slot_dir), str(hold_s)],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_each_job_gets_its_own_gpu_and_a_killed_jobs_slot_comes_back(tmp_path):
    first, second = _holder(tmp_path), _holder(tmp_path)
    slots = sorted(int(p.stdout.readline().split()[0]) for p in (first, second))
    assert slots == [0, 1]

    third = _holder(tmp_path)
    time.sleep(1.0)
    assert third.poll() is None  # both GPUs taken: it waits
    first.send_signal(signal.SIGKILL)  # a crash frees its slot
    first.wait()
    freed = int(third.stdout.readline().split()[0])
    assert freed in (0, 1)
    for job in (second, third):
        job.kill()
        job.wait()


def test_a_slot_chosen_by_the_scheduler_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert take_gpu_slot(gpus=4, slot_dir=tmp_path) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3" and not list(tmp_path.iterdir())


def test_no_gpu_no_slot(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert take_gpu_slot(gpus=0, slot_dir=tmp_path) is None
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


@pytest.mark.parametrize("visible, expected", [(None, 2), ("1", 1), ("0,1", 2), ("", 0), ("-1", 0), ("0,-1,1", 1)])
def test_visible_gpus_follow_cuda_visible_devices(tmp_path, monkeypatch, visible, expected):
    for k in range(2):
        (tmp_path / f"0000:0{k}:00.0").mkdir()
    monkeypatch.setattr("emoforge.devices.NVIDIA_PROC", tmp_path)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert nvidia_gpu_count() == expected
