"""Server mode: an `mlflow server` on 127.0.0.1 (SQLite behind it, artifacts proxied), and
eight training jobs that Snakemake runs at once logging to it through MLFLOW_TRACKING_URI."""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from test_workflow import _free_port, snakemake, workdir

VARIANTS = ("cnn_logmel", "egemaps_linear")
FOLDS = range(4)


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    store = tmp_path / "server"
    store.mkdir()
    command = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
               f"sqlite:///{store / 'mlflow.db'}", "--artifacts-destination", str(store / "artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, cwd=store, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
    yield uri, store
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_eight_parallel_jobs_log_every_run_to_an_mlflow_server(mlflow_server, tmp_path, monkeypatch):
    uri, store = mlflow_server
    wd = tmp_path / "wd"
    wd.mkdir()
    workdir(wd)
    (wd / "eight.yaml").write_text(yaml.safe_dump({"ser": {"variants": list(VARIANTS)}}))
    targets = [f"data/models/ser/demo_speech/{v}/speaker/fold{k}/metrics.json" for v in VARIANTS for k in FOLDS]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # --cores 16 on any machine: the eight 2-thread fold jobs run at the same time
    snakemake(wd, *targets, "--cores", "16", "--configfile", "config/ci.yaml", "eight.yaml")

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("ser")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.fold != ''")
    assert sorted((r.data.tags["variant"], r.data.tags["fold"]) for r in runs) == \
        sorted((v, str(k)) for v in VARIANTS for k in FOLDS)
    for r in runs:
        assert r.info.status == "FINISHED" and "test/ua" in r.data.metrics
        assert "metrics.json" in [a.path for a in client.list_artifacts(r.info.run_id)]
    parents = client.search_runs([experiment.experiment_id], filter_string="tags.`emoforge.parent` != ''")
    assert sorted(p.data.tags["emoforge.parent"] for p in parents) == \
        sorted(f"demo_speech/{v}/speaker" for v in VARIANTS)  # racing folds share one parent
    for r in runs:
        assert r.data.tags["mlflow.parentRunId"] in {p.info.run_id for p in parents}
    assert any((store / "artifacts").rglob("metrics.json"))  # stored by the server, not beside the jobs
    assert not (wd / "mlflow.db").exists()
    # the workflow's onstart made every experiment before the jobs, even those no job used
    assert all(client.get_experiment_by_name(name) for name in ("ser", "translate", "faces"))
    for target in targets:  # each fold's model, logged to the server as an MLflow model
        model_id = json.loads((wd / target).read_text())["mlflow_model_uri"].removeprefix("models:/")
        assert client.get_logged_model(model_id).source_run_id in {r.info.run_id for r in runs}
