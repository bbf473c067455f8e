# Config validation, helpers and wildcard constraints shared by every stage.
import json
from pathlib import Path

from snakemake.utils import validate

from emoforge.corpora import check_config, corpus_type
from emoforge.devices import nvidia_gpu_count
from emoforge.features.audio import VECTORS

try:
    check_config(config.get("corpora"))  # before the schema: its messages name the fix
except ValueError as e:
    raise WorkflowError(str(e))
validate(config, "../schemas/params.schema.yaml")

CORPORA = {name: c for name, c in config["corpora"].items() if c.get("enabled")}
EMOFORGE = "emoforge"  # the console script; `python -m emoforge.cli` works too


def _feature_file(name):
    kind = "images" if corpus_type(name, CORPORA[name]).modality == "image" else "logmel"
    return f"data/features/{name}/{kind}.parquet"


FEATURE_FILES = [_feature_file(name) for name in CORPORA]


def _vector_features():
    """The fixed-length vectors that the chosen SER variants (or their fusion members) read."""
    from emoforge import models

    wanted = set().union(*(models.get(v, "ser").features() for v in config["ser"]["variants"]))
    return sorted(wanted - {"logmel"})


VECTOR_FEATURES = _vector_features()
VECTOR_NAMES = sorted(VECTORS)


def ser_inputs(w):
    """A variant's feature file (and the test corpus's, cross-corpus), or, for a fusion, its
    members' predictions on the same fold."""
    from emoforge import models

    spec = models.get(w.variant, "ser")
    protocol = f"cross-{w.target}" if "target" in w.keys() else w.protocol
    if spec.members:
        return [f"data/models/ser/{w.corpus}/{m}/{protocol}/fold{w.fold}/predictions.npz" for m in spec.members]
    corpora = [w.corpus, w.target] if "target" in w.keys() else [w.corpus]
    return [f"data/features/{corpus}/{spec.feature}.parquet" for corpus in corpora]


def _check_task_corpora(task):
    missing = [c for c in config[task]["corpora"] if c not in CORPORA]
    if missing:
        raise WorkflowError(f"{task}.corpora names {missing}, which are not enabled under corpora: in params.yaml")
    return config[task]["corpora"]


SER_CORPORA = _check_task_corpora("ser")
for _pair in config["ser"]["cross"]["pairs"]:
    if not {_pair["train"], _pair["test"]} <= set(CORPORA):
        raise WorkflowError(f"ser.cross.pairs names {_pair}: enable both corpora under corpora: in params.yaml")
TRANSLATE_CORPORA = _check_task_corpora("translate")
FACES_CORPORA = _check_task_corpora("faces")


wildcard_constraints:
    corpus="[A-Za-z0-9_]+",
    variant="[A-Za-z0-9_]+",
    fold=r"\d+",
    protocol="[a-z0-9]+",
    target="[A-Za-z0-9_]+",


def corpus_json(wildcards):
    """A corpus's config entry (plus the seed) as JSON, so that edits re-run what they touch."""
    return json.dumps({**CORPORA[wildcards.corpus], "seed": config["seed"]}, sort_keys=True)


def task_json(task, drop=(), **settings):
    """A task's params section with `settings` on top, as JSON, leaving out the keys in `drop`."""
    cfg = {**config[task], "seed": config["seed"], "device": config["device"], **settings}
    return json.dumps({k: v for k, v in cfg.items() if k not in drop}, sort_keys=True)


def ser_setting(variant, key, *default):
    """A `ser` key as this variant trains with it: its recipe, or `ser.overrides.<variant>`;
    with a default given, that default where the key is set nowhere."""
    from emoforge import models

    training = models.get(variant, "ser").training(config["ser"])
    return training.get(key, *default) if default else training[key]


FAN_OUT_KEYS = ("corpora", "variants", "protocols", "splits", "overrides", "cross")


def ser_json(w, cross=None):
    """One fold's settings: the `ser` keys with this variant's recipe and overrides and only its
    model options, and none of the keys that only say what to fan out, so adding a variant
    leaves the others be. (No **kwargs: Snakemake would pass a params function its input,
    output, threads and resources, and a fold's checkpoint would not resume under other --cores.)"""
    from emoforge import models

    ser = config["ser"]
    model = {w.variant: ser["model"][w.variant]} if w.variant in ser.get("model", {}) else {}
    training = {k: v for k, v in models.get(w.variant, "ser").training(ser).items() if k not in FAN_OUT_KEYS}
    settings = {**training, "model": model, "folds": ser_folds(w.corpus), "seed": config["seed"],
                "device": config["device"], "features": config["features"]}
    if cross is not None:
        settings["cross"] = cross
    return json.dumps(settings, sort_keys=True)  # features: how the audio was read, for `predict`


def cross_json(w):
    """A cross-corpus fold's settings: the test corpus, where its features are, the label map,
    and the pair's own keys (train_labels, drop_emotions)."""
    pairs = config["ser"]["cross"]["pairs"]
    pair = next(p for p in pairs if (p["train"], p["test"]) == (w.corpus, w.target))
    cross = {"test_corpus": w.target, "test_features": f"data/features/{w.target}",
             "label_map": config["ser"]["cross"].get("label_map", {}),
             **{k: v for k, v in pair.items() if k not in ("train", "test")}}
    return ser_json(w, cross=cross)


def ser_folds(corpus):
    """A corpus's SER folds: its own `folds:` entry, else `ser.folds`, else (`auto`) the corpus
    type's protocol (e.g. IEMOCAP's 5 sessions). An integer, or `loso`: one fold per speaker."""
    folds = CORPORA[corpus].get("folds", config["ser"]["folds"])
    return corpus_type(corpus, CORPORA[corpus]).default_folds if folds == "auto" else folds


def ser_fold_numbers(corpus):
    """0..n-1; for `loso`, n is the number of speakers in the corpus's index (made first: a checkpoint)."""
    folds = ser_folds(corpus)
    if folds != "loso":
        return range(int(folds))
    import pandas as pd

    index = pd.read_parquet(checkpoints.index.get(corpus=corpus).output[0], columns=["split_group", "status"])
    return range(index.loc[index["status"] == "ok", "split_group"].nunique())


def ser_variant_folds(corpus, variant):
    """The folds a variant runs on a corpus: all of them, or the first `splits` where its
    settings say so (e.g. one random split of a reference's own protocol on CPU)."""
    folds = ser_fold_numbers(corpus)
    splits = ser_setting(variant, "splits", None)
    return folds if splits is None else folds[:int(splits)]


def raw_input(wildcards):
    """A user's own copy needs no download step; otherwise the download's done-flag."""
    cfg = CORPORA[wildcards.corpus]
    return [] if cfg.get("path") else [f"data/raw/{wildcards.corpus}/.emoforge-done"]


def raw_root(wildcards):
    cfg = CORPORA[wildcards.corpus]
    return cfg["path"] if cfg.get("path") else f"data/raw/{wildcards.corpus}"


def gpu_resources():
    """CUDA jobs ask for one `gpu`, so `--resources gpu=N` runs N of them at a time."""
    return 1 if nvidia_gpu_count() and config["device"] != "cpu" else 0
