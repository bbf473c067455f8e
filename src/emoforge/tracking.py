"""MLflow logging. The only module that imports mlflow.

The store is `sqlite:///mlflow.db` in the working directory unless MLFLOW_TRACKING_URI
says otherwise; artifacts go beside it in mlartifacts/.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock

DEFAULT_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
    return out


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Parallel jobs creating one SQLite store at once race on its schema migration."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    lock = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock):
        yield


class Run:
    def __init__(self, mlflow, run):
        self._m, self.run = mlflow, run
        self.run_id = run.info.run_id

    def metrics(self, values: dict, step: int | None = None) -> None:
        scalars = {k: float(v) for k, v in values.items()
                   if isinstance(v, (int, float))}
        self._m.log_metrics(scalars, step=step)

    def artifact(self, path: Path, folder: str | None = None) -> None:
        self._m.log_artifact(str(path), artifact_path=folder)

    def figure(self, fig, name: str) -> None:
        """Log a matplotlib figure and close it (pyplot keeps every open figure alive)."""
        import matplotlib.pyplot as plt

        self._m.log_figure(fig, name)
        plt.close(fig)

    def tags(self, tags: dict) -> None:
        self._m.set_tags(tags)

    def model(self, weights: Path) -> str:
        """Log a model file as an MLflow model and return its models:/ URI. It is a model from
        code: MLflow keeps emoforge/serving.py and the file, never a pickled object, and
        mlflow.pyfunc.load_model(uri).predict(DataFrame of paths) runs it."""
        import mlflow.pyfunc

        info = mlflow.pyfunc.log_model(name="model", python_model=str(SERVING),
                                       artifacts={"model": str(weights)},
                                       pip_requirements=SERVING_REQUIREMENTS)
        return info.model_uri


SERVING = Path(__file__).with_name("serving.py")
SERVING_REQUIREMENTS = ["emoforge", "torch==2.13.0"]  # emoforge from its repository: pip install -e .


def _parent(client, exp_id: str, group: str) -> str:
    """The parent run that groups a corpus x variant's folds; made by the first fold to need it.
    Against a server no file lock orders the jobs, so two may each make one at start; see
    _settle_parent for how they agree."""
    found = _parents(client, exp_id, group)
    if found:
        return found[0].info.run_id
    made = client.create_run(exp_id, run_name=group, tags={"emoforge.parent": group}).info.run_id
    client.set_terminated(made)
    return made


def _parents(client, exp_id: str, group: str) -> list:
    """The group's parent runs, oldest first (ties broken by run id)."""
    found = client.search_runs([exp_id], filter_string=f"tags.`emoforge.parent` = '{group}'")
    return sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))


def _settle_parent(client, exp_id: str, group: str, run_id: str) -> None:
    """At the end of a fold, when every racing job has long made its parent: the oldest parent
    is the group's, this run points at it, and any younger duplicate is deleted. Every job
    decides the same way, so they all end under one parent."""
    oldest, *extra = _parents(client, exp_id, group)
    client.set_tag(run_id, "mlflow.parentRunId", oldest.info.run_id)
    from mlflow.exceptions import MlflowException

    for duplicate in extra:
        try:
            client.delete_run(duplicate.info.run_id)
        except MlflowException:  # another fold deleted it first
            pass


def _experiment_id(mlflow, name: str, location: str | None) -> str:
    """The experiment's id, creating it if needed; a job that loses the race to create it
    (a server answers RESOURCE_ALREADY_EXISTS) takes the winner's."""
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return mlflow.get_experiment_by_name(name).experiment_id


def _artifact_location(uri: str) -> str | None:
    """Beside a SQLite store, in mlartifacts/; a server decides for itself."""
    return Path("mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None


def prepare(experiments: list[str]) -> None:
    """The store and the experiments, made once before any job runs (the workflow's onstart):
    parallel jobs that each meet a fresh SQLite store or a missing experiment race to create it."""
    mlflow, _ = _client()
    uri = tracking_uri()
    with _store_lock(uri):
        for name in experiments:
            _experiment_id(mlflow, name, _artifact_location(uri))


@contextmanager
def run(experiment: str, name: str, params: dict, tags: dict | None = None,
        resume_id: str | None = None, group: str | None = None) -> Iterator[Run]:
    """Start (or, given resume_id, continue) a run; params are flattened with dots.
    With `group`, the run is nested under that group's parent run."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    with _store_lock(uri):
        exp_id = _experiment_id(mlflow, experiment, _artifact_location(uri))
        parent_id = _parent(mlflow.tracking.MlflowClient(), exp_id, group) if group and not resume_id else None
    with mlflow.start_run(run_id=resume_id, experiment_id=None if resume_id else exp_id,
                          run_name=None if resume_id else name, tags=tags, parent_run_id=parent_id) as active:
        if not resume_id:
            mlflow.log_params(_flatten(params))
            mlflow.set_tags(provenance())
            if Path(PARAMS_FILE).is_file():
                mlflow.log_artifact(PARAMS_FILE)
        yield Run(mlflow, active)
        if parent_id:
            _settle_parent(mlflow.tracking.MlflowClient(), exp_id, group, active.info.run_id)


PARAMS_FILE = "params.yaml"


def provenance() -> dict:
    """The code a run came from: the git commit of the working directory, and whether files
    git tracks had changes that commit does not hold."""
    import subprocess

    def git(*args):
        done = subprocess.run(["git", *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"mlflow.source.git.commit": commit, "emoforge.git_dirty": str(bool(dirty)).lower()}


def _client():
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow, mlflow.MlflowClient()


def register(name: str, model_uri: str, alias: str, tags: dict) -> str | None:
    """`model_uri` as a version of registered model `name`, with `alias` pointing at it; returns
    the version. When the alias already points at that model nothing new is registered; when
    the model was logged to another store (MLFLOW_TRACKING_URI changed since), None."""
    mlflow, client = _client()
    from mlflow.exceptions import MlflowException

    try:
        client.get_logged_model(model_uri.removeprefix("models:/"))
    except MlflowException:
        return None
    with _store_lock(tracking_uri()):
        try:
            current = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            current = None
        if current is not None and model_uri in (current.source, f"models:/{current.model_id}"):
            return str(current.version)
        version = mlflow.register_model(model_uri, name, tags=tags).version
        client.set_registered_model_alias(name, alias, version)
    return str(version)


def registered_models(prefix: str) -> list[str]:
    _, client = _client()
    return sorted(m.name for m in client.search_registered_models(filter_string=f"name LIKE '{prefix}%'"))


def registered_model_file(uri: str, filename: str) -> Path:
    """A file of a registered model (models:/NAME@ALIAS or models:/NAME/VERSION), downloaded."""
    mlflow, _ = _client()
    from mlflow.exceptions import MlflowException

    try:
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as e:
        raise FileNotFoundError(f"{uri}: not in the registry at {tracking_uri()} ({e.message})") from None
    found = folder / "artifacts" / filename
    if not found.is_file():
        raise FileNotFoundError(f"{uri} holds no {filename}: it was not logged by emoforge")
    return found
