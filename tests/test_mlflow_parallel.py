"""Many jobs, one fresh MLflow store: every run lands in its own experiment, none is lost."""
import os
import subprocess
import sys

from mlflow.tracking import MlflowClient

JOB = """
import sys
from emoforge import tracking
experiment, group, job = sys.argv[1:]
with tracking.run(experiment, f"job{job}", {"job": int(job)}, tags={"job": job}, group=group) as run:
    for step in range(3):
        run.metrics({"loss": 1.0 / (step + 1 + int(job))}, step=step)
"""


def test_eight_parallel_jobs_on_a_fresh_sqlite_store_lose_no_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"
    (tmp_path / "fresh").mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    plan = {str(job): ("ser" if job % 2 else "faces", f"group{job % 3}") for job in range(8)}
    jobs = [subprocess.Popen([sys.executable, "-c", JOB, experiment, group, job], env=env, cwd=tmp_path,
                             stderr=subprocess.PIPE, text=True)
            for job, (experiment, group) in plan.items()]
    for job in jobs:
        assert job.wait(timeout=300) == 0, job.stderr.read()[-3000:]

    client = MlflowClient(uri)
    experiments = {e.name: e.experiment_id for e in client.search_experiments()}
    runs = client.search_runs(list(experiments.values()), filter_string="tags.job != ''")
    assert sorted(r.data.tags["job"] for r in runs) == sorted(plan)
    by_id = {v: k for k, v in experiments.items()}
    for r in runs:
        assert by_id[r.info.experiment_id] == plan[r.data.tags["job"]][0]  # none fell into "Default"
        assert len(client.get_metric_history(r.info.run_id, "loss")) == 3
    parents = client.search_runs(list(experiments.values()), filter_string="tags.`emoforge.parent` != ''")
    assert sorted((by_id[p.info.experiment_id], p.data.tags["emoforge.parent"]) for p in parents) == \
        sorted(set(plan.values()))  # one parent per experiment x group, not one per racing job


def test_a_run_carries_the_git_commit_and_the_params_file(tmp_path):
    from emoforge import tracking
    (tmp_path / "params.yaml").write_text("seed: 7\n")
    for command in (["init", "-q"], ["config", "user.email", "ci@emoforge.invalid"], ["config", "user.name", "ci"],
                    ["add", "params.yaml"], ["commit", "-q", "-m", "params"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    with tracking.run("ser", "provenance", {"seed": 7}) as run:
        run_id = run.run_id
    client = MlflowClient(tracking.tracking_uri())
    tags = client.get_run(run_id).data.tags
    assert tags["mlflow.source.git.commit"] == commit and tags["emoforge.git_dirty"] == "false"
    assert "params.yaml" in [a.path for a in client.list_artifacts(run_id)]


def test_a_logged_figure_is_stored_and_closed(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emoforge import tracking
    with tracking.run("ser", "figure", {}) as run:
        fig, _ = plt.subplots()
        run.figure(fig, "confusion.png")
        run_id = run.run_id
    # pyplot keeps every figure it made alive until closed: a job that logs one per fold leaks
    assert not plt.fignum_exists(fig.number)
    client = MlflowClient(tracking.tracking_uri())
    assert "confusion.png" in [a.path for a in client.list_artifacts(run_id)]
