"""The cluster path on a live SLURM: a small emoforge workflow goes through the repository's
SLURM profile (site settings swapped for this one-node cluster's), every job is a SLURM job
that SLURM itself records as completed, and the outputs are there."""
import os
import subprocess
import sys

import pytest
import yaml

import local_slurm
from conftest import REPO
from test_workflow import workdir

TARGETS = ["data/models/ser/demo_speech/cnn_logmel/speaker/fold0/metrics.json",
           "data/features/demo_speech/mfcc_stats.parquet"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    why = local_slurm.why_not()
    if why:
        pytest.skip(why)
    cluster = local_slurm.LocalSlurm(local_slurm.HOME).start()
    yield cluster
    cluster.stop()


def site_profile(out_dir):
    """The repository's profile with the lines its comments tell a site to change, changed."""
    profile = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    profile["default-resources"].update(slurm_account="emoforge", slurm_partition="debug", mem_mb=1000, runtime=30)
    for resources in profile.get("set-resources", {}).values():
        resources.update(slurm_partition="debug")
        for gpu_only in ("gres", "gpu"):
            resources.pop(gpu_only, None)
    # this cluster has no accounting daemon: sacct cannot answer, squeue can
    profile.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                    "latency-wait": 5, "max-threads": os.cpu_count()})
    out_dir.mkdir(parents=True)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(profile))
    return out_dir


def test_a_workflow_runs_through_the_slurm_profile_on_a_live_scheduler(slurm, tmp_path):
    (tmp_path / "wd").mkdir()
    wd = workdir(tmp_path / "wd")
    profile = site_profile(tmp_path / "profile")
    env = {**slurm.env, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{wd / 'mlflow.db'}"}
    before = len(slurm.finished_jobs())
    done = subprocess.run([sys.executable, "-m", "snakemake", *TARGETS, "--workflow-profile", str(profile),
                           "--configfile", "config/ci.yaml"], cwd=wd, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-5000:])
    for target in TARGETS:
        assert (wd / target).stat().st_size > 0, target
    submitted = [line for line in done.stderr.splitlines() if "SLURM" in line and "jobid" in line.lower()]
    completed = slurm.finished_jobs()[before:]
    assert len(completed) >= 4 and all("JobState=COMPLETED" in line for line in completed), completed
    assert len(submitted) == len(completed), (submitted, completed)
