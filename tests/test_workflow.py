"""The Snakemake graph: schema validation, a dry run with the real corpora, and a tiny
end-to-end run of the demo (then nothing left to do, runs visible in MLflow's UI server)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, shared, write_wav
from emoforge import models
from emoforge.labels import FACE_EMOTIONS

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workdir(tmp: Path) -> Path:
    for name in ("Snakefile", "params.yaml", "dvc.yaml", "workflow", "config", "src"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp / name)
    return tmp


def run(cwd, *cmd, check=True):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    p = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=1500)
    if check and p.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return p


def snakemake(cwd, *args, check=True):
    return run(cwd, *SNAKEMAKE, *args, check=check)


def merge(base: dict, over: dict) -> dict:
    return {k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
            for k, v in {**base, **over}.items()}


def test_dry_run_with_real_corpora_lists_every_stage(tmp_path):
    wd = workdir(tmp_path)
    out = snakemake(wd, "-n", "--cores", "2", "--configfile", "config/papers.yaml").stdout
    for rule in ("download", "index", "features_audio", "features_images", "ser_fold", "translate_world",
                 "faces", "report"):
        assert any(f"{kind} {rule}:" in out for kind in ("rule", "localrule", "checkpoint")), rule
    for variant in ("no_conversion", "prosody_baseline", "world_mlp", "r1_unet8"):
        assert f"data/models/translate/ravdess/{variant}/metrics.json" in out
    assert "data/raw/ravdess/.emoforge-done" in out and "data/raw/crema_d/.emoforge-done" in out
    for corpus, folds in (("ravdess", 6), ("crema_d", 6), ("iemocap", 5)):  # folds: auto
        for variant in sorted(v for v, spec in models.REGISTRY.items() if spec.task == "ser"):  # every variant
            assert f"data/models/ser/{corpus}/{variant}/speaker/fold{folds - 1}/metrics.json" in out, variant
        assert f"data/models/ser/{corpus}/r2_resnet1d/r2split/fold0/metrics.json" in out
        assert f"data/models/ser/{corpus}/r3_cnn1d/r3split/fold0/metrics.json" in out
        assert f"data/models/ser/{corpus}/cnn_logmel/speaker/fold{folds}/metrics.json" not in out
    assert "data/models/ser/iemocap/r4_multitask/cross-ravdess/fold0/metrics.json" in out  # R4's protocol
    for corpus in ("fer2013", "iemocap"):  # a user copy is indexed where it is
        assert f"data/raw/{corpus}/.emoforge-done" not in out


def _papers_command(stage: str) -> list[str]:
    """A papers/dvc.yaml stage's command, its ${vars} filled in."""
    spec = yaml.safe_load((REPO / "papers" / "dvc.yaml").read_text())
    command = spec["stages"][stage]["cmd"]
    for variables in spec["vars"]:
        for name, value in variables.items():
            command = command.replace("${" + name + "}", value)
    return command.split()


def test_papers_pipeline_plans_the_real_corpora_from_its_own_folder(tmp_path):
    workdir(tmp_path)
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "params.yaml").symlink_to("../params.yaml")
    snakemake_, *args = _papers_command("report")
    assert snakemake_ == "snakemake"
    plan = snakemake(tmp_path / "papers", "-n", *args).stdout
    jobs = dict(line.split() for line in plan.split("Job stats:")[1].splitlines()[3:] if len(line.split()) == 2)
    assert jobs["features_images"] == "1" and jobs["translate_world"] == "4"  # FER-2013; RAVDESS
    assert int(jobs["ser_fold"]) >= 6 * 10  # RAVDESS's 6 folds of every variant


def test_the_committed_papers_lock_matches_the_code_and_configs():
    """papers/dvc.lock says which code made the real-corpora features: after a change to that
    code, run `cd papers && dvc repro prepare` and commit the lock."""
    status = run(REPO / "papers", "dvc", "status", "--json", "prepare").stdout
    changed = json.loads(status or "{}").get("prepare", [])
    assert not [entry for entry in changed if "changed deps" in entry], changed


R2_VARIANTS = ("r2_alexnet1d", "r2_resnet1d", "r2_gru", "r2_lstm", "r2_attention")


def test_benchmark_plans_every_variant_and_the_cpu_config_leaves_out_the_slow_ones(tmp_path):
    (tmp_path / "shared/data").mkdir(parents=True)  # the configs name ../shared/data/ravdess-16k
    (tmp_path / "shared/data/ravdess-16k").symlink_to(shared("ravdess-16k"))
    (tmp_path / "repo").mkdir()
    wd = workdir(tmp_path / "repo")
    bench = ["reports/benchmarks/ser_ravdess.json", "--configfile", "config/bench_ravdess.yaml"]
    planned, plans = {}, {}
    for extra in ([], ["config/bench_ravdess_cpu.yaml"]):
        out = plans[bool(extra)] = snakemake(wd, "-n", "--cores", "2", *bench, *extra).stdout
        planned[bool(extra)] = {v for v in models.REGISTRY if f"data/models/ser/ravdess/{v}/speaker/fold5/" in out}
    everything = {v for v, spec in models.REGISTRY.items() if spec.task == "ser"} - {"wavlm_mlp"}
    assert planned[False] == everything
    assert planned[True] == {"cnn_logmel", "cnn_statspool", "cnn_statspool_trainval",
                             "egemaps_linear", "egemaps_svm", "compare_linear", "compare_svm",
                             "fusion_cnn_compare", "fusion_loglinear"}
    # on CPU, R2's and R3's variants run one split of their own protocol (`splits: 1`), as on a GPU
    # they run all six; their rows land in the same benchmark file
    for variant, protocol in [("r3_cnn1d", "r3split")] + [(v, "r2split") for v in R2_VARIANTS]:
        assert f"ravdess/{variant}/{protocol}/fold5/" in plans[False]
        assert f"ravdess/{variant}/{protocol}/fold0/" in plans[True]
        assert f"ravdess/{variant}/{protocol}/fold1/" not in plans[True]
    out = snakemake(wd, "-n", "--cores", "2", "reports/benchmarks/translate_ravdess.json",
                    "--configfile", "config/bench_translate_ravdess.yaml").stdout
    assert "rule translate_world:" in out
    for variant in ("no_conversion", "prosody_baseline", "world_mlp", "r1_unet8"):
        assert f"data/models/translate/ravdess/{variant}/pairs.csv" in out


def test_invalid_params_fail_before_any_job(tmp_path):
    wd = workdir(tmp_path)
    (wd / "bad.yaml").write_text("ser: {folds: 1}\n")
    p = snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert p.returncode != 0 and "folds" in (p.stdout + p.stderr)


def test_task_on_a_disabled_corpus_is_named(tmp_path):
    wd = workdir(tmp_path)
    (wd / "bad.yaml").write_text("ser: {corpora: [nowhere]}\n")
    p = snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert p.returncode != 0 and "nowhere" in (p.stdout + p.stderr)


def test_a_manifest_corpus_without_its_csv_is_named_with_the_fix(tmp_path):
    wd = workdir(tmp_path)
    (wd / "bad.yaml").write_text("corpora: {mine: {enabled: true, type: manifest, path: /data/mine, "
                                 "label_map: {ang: angry}}}\nser: {corpora: [mine]}\n")
    p = snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert p.returncode != 0
    assert "corpora.mine: a manifest corpus needs `manifest:`" in p.stdout + p.stderr
    assert "e.g. manifest: manifest.csv" in p.stdout + p.stderr


def test_folds_per_corpus_an_integer_or_one_per_speaker(tmp_path):
    """corpora.<name>.folds beats ser.folds; `loso` counts the speakers in the corpus's index."""
    from emoforge.corpora.base import Item, write_index

    wd = workdir(tmp_path)
    clips = wd / "mine"
    items = []
    for k in range(7):
        write_wav(clips / f"s{k}.wav", seconds=0.5)
        items.append(Item(item_id=f"mine/{k}", corpus="mine", path=f"s{k}.wav", modality="audio",
                          speaker=f"spk{k}", split_group=f"spk{k}", emotion="angry"))
    (clips / "m.csv").write_text("path,emotion,speaker\n" + "".join(f"s{k}.wav,ang,spk{k}\n" for k in range(7)))
    write_index(items, wd / "data/index/mine.parquet")  # as if indexed already: the checkpoint is done
    (wd / "folds.yaml").write_text(
        "corpora: {mine: {enabled: true, type: manifest, path: mine, manifest: m.csv, label_map: {ang: angry},"
        " folds: loso}, demo_speech: {enabled: true, folds: 3}}\n"
        "ser: {corpora: [mine, demo_speech], folds: 5}\n")
    out = snakemake(wd, "-n", "--cores", "1", "reports/metrics.json", "--configfile", "folds.yaml").stdout
    assert "data/models/ser/mine/cnn_logmel/speaker/fold6/metrics.json" in out
    assert "data/models/ser/mine/cnn_logmel/speaker/fold7/metrics.json" not in out
    assert "data/models/ser/demo_speech/cnn_logmel/speaker/fold2/metrics.json" in out
    assert "data/models/ser/demo_speech/cnn_logmel/speaker/fold3/metrics.json" not in out


def test_a_folds_settings_are_the_ser_keys_alone_whatever_the_cores(tmp_path):
    """The settings are a fold's checkpoint key: the job's threads and resources must not be in
    them, or a training interrupted under --cores 2 would start over under --cores 1."""
    wd = workdir(tmp_path)
    settings = []
    for cores in ("1", "2"):
        out = snakemake(wd, "-n", "-p", "--cores", cores, "train").stdout
        settings.append(re.findall(r"emoforge ser .*?--cfg '(\{.*?\})'", out))
    assert settings[0] and settings[0] == settings[1]
    first = json.loads(settings[0][0])
    assert {"epochs", "seed", "features", "model"} <= set(first)
    assert not {"input", "output", "threads", "resources"} & set(first)


def test_cross_pairs_plan_one_job_each_with_the_test_corpus_in_its_settings(tmp_path):
    wd = workdir(tmp_path)
    (wd / "cross.yaml").write_text(
        "corpora: {mine: {enabled: true, type: manifest, path: mine, manifest: m.csv, label_map: {ang: angry}}}\n"
        "ser: {cross: {pairs: [{train: demo_speech, test: mine, train_labels: all}],"
        " variants: [egemaps_linear], label_map: {excited: happy}}}\n")
    out = snakemake(wd, "-n", "-p", "--cores", "1", "train", "--configfile", "cross.yaml").stdout
    assert "data/models/ser/demo_speech/egemaps_linear/cross-mine/fold0/metrics.json" in out
    assert "data/features/mine/egemaps.parquet" in out and "--protocol cross" in out
    assert '"cross": {"label_map": {"excited": "happy"}, "test_corpus": "mine", "test_features": ' \
           '"data/features/mine", "train_labels": "all"}' in out  # the pair's own keys travel with it
    (wd / "bad.yaml").write_text("ser: {cross: {pairs: [{train: demo_speech, test: crema_d}], variants: []}}\n")
    p = snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert p.returncode != 0 and "enable both corpora" in p.stdout + p.stderr


def test_a_translation_variant_that_is_no_converter_stops_the_workflow_with_the_known_ones(tmp_path):
    wd = workdir(tmp_path)
    (wd / "old.yaml").write_text("translate: {variants: [no_conversion, unet_gan]}\n")
    p = snakemake(wd, "-n", "--cores", "1", "--configfile", "old.yaml", check=False)
    said = p.stdout + p.stderr
    assert p.returncode != 0 and "translate.variants names ['unet_gan']" in said and "'r1_unet8'" in said


def test_make_run_puts_targets_before_the_config_files():
    """`--configfile` takes every word after it, so a target after it is read as a config file."""
    p = run(REPO, "make", "-n", "run", "CONFIG=config/papers.yaml config/ci.yaml", "TARGETS=reports/report.md")
    line = next(s for s in p.stdout.splitlines() if s.startswith("snakemake"))
    assert line.index("reports/report.md") < line.index("--configfile config/papers.yaml config/ci.yaml")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """`dvc repro` of the whole pipeline on a tiny params.yaml (params.yaml + config/ci.yaml)."""
    wd = workdir(tmp_path_factory.mktemp("e2e"))
    tiny = merge(yaml.safe_load((wd / "params.yaml").read_text()), yaml.safe_load((wd / "config/ci.yaml").read_text()))
    (wd / "params.yaml").write_text(yaml.safe_dump(tiny))
    uri = f"sqlite:///{wd / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        run(wd, "dvc", "init", "--no-scm", "-q")
        run(wd, "dvc", "repro")
        again = snakemake(wd, "-n", "--cores", "2")
        status = run(wd, "dvc", "status")
        metrics = run(wd, "dvc", "metrics", "show")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    return wd, uri, again, status, metrics


@pytest.mark.slow
def test_demo_end_to_end(e2e):
    wd, _, again, status, metrics = e2e
    rows = json.loads((wd / "reports" / "metrics.json").read_text())
    assert {r["task"] for r in rows} == {"ser", "translate", "faces"}
    ua = next(r for r in rows if r["task"] == "ser" and r["metric"] == "ua")
    assert ua["folds"] == 4 and 0 <= ua["mean"] <= 1
    assert set(rows[0]) == {"task", "corpus", "variant", "protocol", "metric", "mean", "std", "folds"}
    report = (wd / "reports" / "report.md").read_text()
    assert "Synthetic data" in report and "demo_speech (synthetic)" in report
    for fig in ("confusion_demo_speech_cnn_logmel", "faces_demo_faces_cgan",
                "speech_to_face", "curves_demo_speech_cnn_logmel_speaker"):
        assert (wd / "reports" / "figures" / f"{fig}.png").stat().st_size > 1000
        assert f"figures/{fig}.png" in report
    world = [r for r in rows if r["task"] == "translate" and r["variant"] in ("no_conversion", "prosody_baseline")]
    assert {(r["variant"], r["metric"]) for r in world} >= {("prosody_baseline", "mcd_db"), ("no_conversion", "f0_corr")}
    assert "| demo_speech (synthetic) | prosody_baseline |" in report
    converted = wd / "data/models/translate/demo_speech/prosody_baseline"
    wavs = pd.read_csv(converted / "pairs.csv")["wav"]
    assert len(wavs) and all((converted / "audio" / name).stat().st_size > 1000 for name in wavs)
    assert "## Time and memory per job" in report and "| features_demo_speech_audio |" in report
    page = (wd / "reports" / "report.html").read_text()
    assert page.count("<audio controls") >= 5 and "<table" in page and "Speech emotion recognition" in page
    assert "Hear and see" in page and page.count('listen/faces/') >= 2 * 4  # a player and a face per clip
    for src in (part.split('"')[0] for part in page.split('src="')[1:]):  # every clip and image is there
        assert (wd / "reports" / src).stat().st_size > 1000, src
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "up to date" in status.stdout
    champions = json.loads((wd / "reports" / "registry.json").read_text())
    assert {task: {c: row["variant"] for c, row in by_corpus.items()} for task, by_corpus in champions.items()} == \
        {"ser": {"demo_speech": "cnn_logmel"}, "translate": {"demo_speech": "world_mlp"},
         "faces": {"demo_faces": "cgan"}, "face_emotion": {"demo_faces": "classifier"}}
    assert len(list((wd / "reports" / "curves").glob("ser_demo_speech_cnn_logmel_speaker_fold*.csv"))) == 4
    summary = json.loads((wd / "reports" / "summary.json").read_text())
    assert summary["ser"]["demo_speech"]["cnn_logmel"]["ua"] == ua["mean"]
    assert "ser.demo_speech.cnn_logmel.ua" in metrics.stdout


@pytest.mark.slow
def test_snakemakes_own_report_holds_the_tables_and_figures_with_captions(e2e):
    import zipfile
    wd = e2e[0]
    snakemake(wd, "--report", "report.zip")
    with zipfile.ZipFile(wd / "report.zip") as bundle:
        names = bundle.namelist()
        page = next(bundle.read(n).decode() for n in names if n.endswith("report.html") and "data/" not in n)
    for item in ("report.html", "report.md", "metrics.json", "confusion_demo_speech_cnn_logmel.png",
                 "faces_demo_faces_cgan.png"):
        assert any(n.endswith(item) for n in names), item
    assert "speech emotion recognition, emotion translation and emotional faces" in page


@pytest.mark.slow
def test_dvc_push_then_pull_into_a_fresh_clone_leaves_nothing_to_do(e2e, tmp_path):
    wd = e2e[0]
    origin = _git_repo(wd, tmp_path / "origin", ".snakemake")  # as a clone, without Snakemake's records
    run(origin, "dvc", "remote", "add", "-d", "-f", "storage", str(tmp_path / "remote"))
    run(origin, "dvc", "push", "-q")
    run(origin, "git", "add", "-A")
    run(origin, "git", "commit", "-q", "-m", "the remote")
    tracked = run(origin, "git", "ls-files").stdout.split()
    assert "dvc.lock" in tracked and "reports/metrics.json" in tracked
    assert not any(t.startswith(("data/", "reports/figures", "mlartifacts")) for t in tracked)

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    run(clone, "dvc", "pull", "-q")
    snakemake(clone, "--cores", "1", "--touch")  # `make pull` does these two steps
    again = snakemake(clone, "-n", "--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "up to date" in run(clone, "dvc", "status").stdout
    for name in ("metrics.json", "summary.json", "report.md", "report.html"):
        assert (clone / "reports" / name).read_bytes() == (wd / "reports" / name).read_bytes(), name


def _git_repo(wd: Path, repo: Path, *leave_out: str) -> Path:
    """A copy of a finished workdir as a git repository with DVC in it, everything committed."""
    shutil.copytree(wd, repo, symlinks=True, ignore=shutil.ignore_patterns("report.zip", *leave_out))
    (repo / ".gitignore").write_text((REPO / ".gitignore").read_text())
    run(repo, "git", "init", "-q")
    run(repo, "git", "config", "user.email", "ci@emoforge.invalid")
    run(repo, "git", "config", "user.name", "ci")
    run(repo, "dvc", "config", "core.no_scm", "false")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "a run")
    return repo


@pytest.mark.slow
def test_dvc_exp_run_sweeps_a_param_and_dvc_plots_draws_the_learning_curves(e2e, tmp_path, monkeypatch):
    repo = _git_repo(e2e[0], tmp_path / "exp")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")  # the run's own store
    ser_fold = repo / "data/models/ser/demo_speech/cnn_logmel/speaker/fold0/metrics.json"
    faces = repo / "data/models/faces/demo_faces/cgan/metrics.json"
    before = {p: p.stat().st_mtime_ns for p in (ser_fold, faces)}
    run(repo, "dvc", "exp", "run", "-S", "ser.lr=0.005", "-n", "lr-0.005")
    table = run(repo, "dvc", "exp", "show", "--csv").stdout
    row = next(line for line in table.splitlines() if "lr-0.005" in line)
    assert "0.005" in row.split(",")
    changed = json.loads(run(repo, "dvc", "params", "diff", "--json").stdout)
    assert (changed["params.yaml"]["ser.lr"]["old"], changed["params.yaml"]["ser.lr"]["new"]) == (0.002, 0.005)
    # DVC kept data/models (persist); Snakemake re-ran the SER folds, whose params changed, and
    # left the face GAN alone
    assert ser_fold.stat().st_mtime_ns != before[ser_fold] and faces.stat().st_mtime_ns == before[faces]
    assert json.loads(ser_fold.read_text())["mlflow_run_id"]

    shown = json.loads(run(repo, "dvc", "plots", "show", "--json").stdout)
    assert not shown.get("errors"), shown["errors"]
    curves = [name for name in shown["data"] if "curves" in name and "cnn_logmel" in name]
    assert len(curves) == 4, list(shown["data"])  # one per fold
    curve = shown["data"][curves[0]][0]
    assert curve["type"] == "vega" and "val_ua" in json.dumps(curve["content"])


@pytest.mark.slow
def test_each_tasks_champion_runs_through_mlflows_own_loader(e2e, tmp_path, monkeypatch):
    import mlflow
    wd, uri, *_ = e2e
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    clip = next((wd / "data/raw/demo_speech").rglob("03-01-01-01-01-01-04.wav"))
    heard = mlflow.pyfunc.load_model("models:/emoforge-ser-demo_speech@champion").predict(
        pd.DataFrame({"path": [str(clip)]}))
    assert heard["emotion"][0] in {c.removeprefix("p_") for c in heard.columns if c.startswith("p_")}
    converted = tmp_path / "angry.wav"
    mlflow.pyfunc.load_model("models:/emoforge-translate-demo_speech@champion").predict(
        pd.DataFrame({"path": [str(clip)], "to": ["angry"], "output": [str(converted)]}))
    assert converted.stat().st_size > 1000
    faces = mlflow.pyfunc.load_model("models:/emoforge-faces-demo_faces@champion").predict(
        pd.DataFrame({"emotion": ["happy", "sad"]}))
    assert [len(image) for image in faces["image"]] == [48, 48]
    face = next((wd / "data/raw/demo_faces/test").rglob("*.png"))
    seen = mlflow.pyfunc.load_model("models:/emoforge-face_emotion-demo_faces@champion").predict(
        pd.DataFrame({"path": [str(face)]}))
    assert seen["emotion"][0] in FACE_EMOTIONS and abs(seen[[f"p_{e}" for e in FACE_EMOTIONS]].sum(axis=1)[0] - 1) < 1e-3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mlflow_ui_lists_the_demo_runs(e2e):
    wd, uri, *_ = e2e
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen([str(mlflow_bin), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
                             "--port", str(port)], cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        req = urllib.request.Request(f"{base}/api/2.0/mlflow/experiments/search", method="POST",
                                     data=json.dumps({"max_results": 50}).encode(),
                                     headers={"Content-Type": "application/json"})
        exps = {e["name"]: e["experiment_id"] for e in json.load(urllib.request.urlopen(req, timeout=10))["experiments"]}
        assert {"ser", "translate", "faces"} <= set(exps)
        req = urllib.request.Request(f"{base}/api/2.0/mlflow/runs/search", method="POST",
                                     data=json.dumps({"experiment_ids": [exps["ser"]]}).encode(),
                                     headers={"Content-Type": "application/json"})
        runs = json.load(urllib.request.urlopen(req, timeout=10))["runs"]
        tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
        parents = [r["info"]["run_id"] for r, t in zip(runs, tags) if "emoforge.parent" in t]
        folds = [t for t in tags if "fold" in t]
        assert len(parents) == 1 and len(folds) == 4  # one parent per corpus x variant x protocol
        assert all(t["mlflow.parentRunId"] == parents[0] for t in folds)
        assert all(r["info"]["status"] == "FINISHED" for r in runs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
