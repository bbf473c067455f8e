"""Aggregate every run's metrics.json into reports/metrics.json and a Markdown report."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..evaluate.metrics import mean_std
from ..train.common import protocol_title
from . import faces as faces_report

SER_METRICS = ("ua", "wa", "f1", "top3")
SYNTHETIC = {"demo_speech", "demo_faces"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _parts(path: str, depth: int) -> list[str]:
    """data/models/<task>/<corpus>/<variant>[/fold<k>]/metrics.json -> [corpus, variant(, fold)]."""
    return list(Path(path).parts[-depth - 1:-1])


def row(task, corpus, variant, protocol, metric, values) -> dict:
    mean, std = mean_std(values)
    return {"task": task, "corpus": corpus, "variant": variant, "protocol": protocol, "metric": metric,
            "mean": round(mean, 4), "std": round(std, 4), "folds": len(values)}


def ser_rows(paths: list[str]) -> tuple[list[dict], dict]:
    groups = defaultdict(list)
    for p in paths:
        corpus, variant, protocol, _ = _parts(p, 4)
        groups[(corpus, variant, protocol)].append(json.loads(Path(p).read_text()))
    rows, confusions = [], {}
    for (corpus, variant, key), folds in sorted(groups.items()):
        protocol = f"{protocol_title(key)} {len(folds)}-fold"
        for m in SER_METRICS:
            rows.append(row("ser", corpus, variant, protocol, m, [f[f"test/{m}"] for f in folds]))
        if all("test_tta/ua" in f for f in folds):
            rows.append(row("ser", corpus, variant, protocol, "ua_tta", [f["test_tta/ua"] for f in folds]))
        rows.append(row("ser", corpus, variant, protocol, "wall_s_per_fold", [f["wall_s"] for f in folds]))
        if key == "speaker":
            confusions[(corpus, variant)] = (np.sum([f["test/confusion"] for f in folds], axis=0), folds[0]["labels"])
    return rows, confusions


def device_name(runs: list[dict]) -> str:
    """'cpu (x86_64, 2 cores)' or 'cuda (NVIDIA H100 ..., 16 cores)': what the runs ran on."""
    import os
    import platform

    devices = sorted({r["device"] for r in runs})
    name = platform.processor()
    if "cuda" in devices:
        import torch
        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else name
    return f"{'/'.join(devices)} ({name or platform.machine()}, {os.cpu_count()} cores)"


def benchmark(ser_paths: list[str], out: Path) -> dict:
    folds = [json.loads(Path(p).read_text()) for p in ser_paths]
    rows, _ = ser_rows(ser_paths)
    # a fusion's wall_s includes its members' training; the total counts that once
    result = {"rows": rows, "wall_s": round(sum(f.get("wall_s_own", f["wall_s"]) for f in folds), 2),
              "device": device_name(folds),
              "epochs_run": {p: f["epochs_run"] for p, f in zip(ser_paths, folds)}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    corpora = {r["corpus"] for r in rows}
    pub = [p for p in yaml.safe_load((Path(__file__).parent / "published.yaml").read_text()) if p["corpus"] in corpora]
    md = [f"# SER benchmark: {', '.join(sorted(corpora))}", "", f"Device: {result['device']}; total {result['wall_s']} s.", "",
          ser_table(pd.DataFrame(rows))]
    if pub:
        md += ["", "Published results on the same corpus:", "", "| system | metric | value | protocol |", "|---|---|---|---|"]
        md += [f"| {p['system']} | {p['metric'].upper()} | {p['value']:.3f} | {p['protocol']} |" for p in pub]
    md += reference_table(rows)
    weights = fusion_weights(ser_paths)
    md += ["", "The fusions' weights, picked on each fold's validation speakers:", "", *weights] if weights else []
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return result


def reference_table(rows: list[dict]) -> list[str]:
    """The reference projects' printed figures beside our runs of the same variant and protocol."""
    references = yaml.safe_load((Path(__file__).parent / "references.yaml").read_text())
    lines = []
    for ref in references:
        title = protocol_title(ref["protocol"])
        ours = [r for r in rows if r["variant"] == ref["variant"] and r["metric"] == ref["metric"]
                and r["protocol"].startswith(title)]
        for r in ours:
            trained = ref.get("train_corpus", ref["corpus"])
            lines.append(f"| {ref['reference']} | `{ref['variant']}` | {title} | {ref['code']:.3f} on {trained}"
                         f"{' → ' + ref['corpus'] if trained != ref['corpus'] else ''} | {ref['writeup']} | "
                         f"{fmt(r)} on {r['corpus']} ({r['folds']} split{'s' if r['folds'] > 1 else ''}) |")
    if not lines:
        return []
    return ["", "The reference projects as their code ran them (accuracy = WA):", "",
            "| reference | variant | protocol | their code printed | their write-up | emoforge |",
            "|---|---|---|---|---|---|", *lines]


# (metric, header) per table: how close to the target, then emotion, voice and quality
TRANSLATE_TABLES = (
    (("mcd_db", "MCD (dB)"), ("logf0_rmse", "log-F0 RMSE"), ("f0_corr", "F0 corr."),
     ("vuv_error", "V/UV error")),
    (("conversion_acc", "heard as target"), ("conversion_acc_target", "real target heard as target (ceiling)"),
     ("conversion_acc_source", "source heard as target (floor)"), ("speaker_sim", "speaker similarity"),
     ("dnsmos_ovrl", "DNSMOS OVRL"), ("dnsmos_ovrl_real", "DNSMOS OVRL real"),
     ("dnsmos_ovrl_world_resynth", "DNSMOS OVRL WORLD resynthesis"),
     ("dnsmos_ovrl_vocoder", "DNSMOS OVRL own vocoder (its ceiling)")),
)
TRANSLATE_METRIC_NAMES = tuple(m for table in TRANSLATE_TABLES for m, _ in table) + (
    "dnsmos_sig", "dnsmos_bak", "dnsmos_sig_real", "dnsmos_bak_real")


def translate_rows(paths: list[str]) -> tuple[list[dict], dict]:
    """One row per translation metric: mean and std over the test pairs."""
    rows, raw = [], {}
    for p in paths:
        corpus, variant = _parts(p, 2)
        r = json.loads(Path(p).read_text())
        raw[(corpus, variant)] = r
        for m in (m for m in TRANSLATE_METRIC_NAMES if f"test/{m}" in r):
            rows.append({"task": "translate", "corpus": corpus, "variant": variant, "protocol": "held-out speakers",
                         "metric": m, "mean": round(r[f"test/{m}"], 4), "std": round(r[f"test/{m}_std"], 4),
                         "folds": 1})
    return rows, raw


def translate_table(raw: dict, name=lambda c: c) -> list[str]:
    lines = []
    for table in TRANSLATE_TABLES:
        lines += ["| corpus | variant | " + " | ".join(header for _, header in table) + " | test pairs |",
                  "|---|---|" + "---|" * len(table) + "---|"]
        for (corpus, variant), r in raw.items():
            cells = [f"{r[f'test/{m}']:.3f} ± {r[f'test/{m}_std']:.3f}" if f"test/{m}" in r else "—"
                     for m, _ in table]
            lines.append(f"| {name(corpus)} | {variant} | " + " | ".join(cells) + f" | {r['test/pairs']} |")
        lines.append("")
    judges = {json.dumps(r["judge"], sort_keys=True) for r in raw.values() if "judge" in r}
    for judge in map(json.loads, sorted(judges)):
        val_ua = "none" if judge["val_ua"] is None else f"{judge['val_ua']:.3f}"
        lines += [f"Judge: {judge['variant']}, trained on the training and validation speakers "
                  f"(C {judge['C']}, validation UA {val_ua}); chance {judge['chance']:.3f}.", ""]
    return lines


def translate_benchmark(paths: list[str], out: Path) -> dict:
    """Every converter's rows (metrics.json format plus wall_s and device) and a Markdown table."""
    rows, raw = translate_rows(paths)
    runs = list(raw.values())
    for r in rows:
        run = raw[(r["corpus"], r["variant"])]
        r |= {"wall_s": run["wall_s"], "device": device_name([run])}
    result = {"rows": rows, "wall_s": round(sum(r["wall_s"] for r in runs), 2), "device": device_name(runs)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    corpora = sorted({corpus for corpus, _ in raw})
    md = [f"# Emotion translation benchmark: {', '.join(corpora)}", "",
          f"Device: {result['device']}; total {result['wall_s']} s. Held-out speakers; mean ± std over "
          "test pairs; MCD on c1–c24 of the WORLD envelope, DTW-aligned.", ""]
    md += translate_table(raw) + ["", "| variant | wall s |", "|---|---|"]
    md += [f"| {variant} | {r['wall_s']} |" for (_, variant), r in raw.items()]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return result


def job_costs(folder: Path) -> list[str]:
    """Wall time, CPU time and peak memory of every job, from Snakemake's benchmark files."""
    files = sorted(folder.glob("*.tsv"))
    if not files:
        return []
    lines = ["## Time and memory per job", "", "From Snakemake's benchmark files in `logs/benchmarks/` "
             "(the latest run of each job).", "", "| job | wall s | CPU s | peak RSS (MB) |", "|---|---|---|---|"]
    for tsv in files:
        last = pd.read_csv(tsv, sep="\t").iloc[-1]
        lines.append(f"| {tsv.stem} | {last['s']:.1f} | {last['cpu_time']:.1f} | {last['max_rss']:.0f} |")
    return lines + [""]


def summary(rows: list[dict]) -> dict:
    """The rows as task -> corpus -> variant -> metric -> mean: what `dvc metrics show/diff` can read."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["task"], {}).setdefault(r["corpus"], {}).setdefault(r["variant"], {})[r["metric"]] = r["mean"]
    return out


def confusion_png(matrix, labels, title, out: Path) -> None:
    from ..train.ser import confusion_figure
    fig = confusion_figure(matrix, labels, title)
    fig.savefig(out, dpi=110)
    _plt().close(fig)


def faces_png(samples: Path, labels: list[str], out: Path) -> None:
    plt = _plt()
    grid = np.load(samples)
    per = len(grid) // len(labels)
    fig, axes = plt.subplots(len(labels), per, figsize=(per * 0.9, len(labels) * 0.95))
    for i, lab in enumerate(labels):
        for j in range(per):
            ax = axes[i, j]
            ax.imshow(grid[i * per + j], cmap="gray", vmin=0, vmax=255); ax.set_xticks([]); ax.set_yticks([])
        axes[i, 0].set_ylabel(lab, rotation=0, ha="right", va="center")
    fig.tight_layout(); fig.savefig(out, dpi=110); plt.close(fig)


def md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def fmt(r) -> str:
    return f"{r['mean']:.3f} ± {r['std']:.3f}" if r["folds"] > 1 else f"{r['mean']:.3f}"


def ser_table(ser_df: pd.DataFrame, name=lambda c: c) -> str:
    """One row per corpus x variant x protocol, mean ± std over folds."""
    wide = ser_df.assign(value=ser_df.apply(fmt, axis=1)).pivot_table(
        index=["corpus", "variant", "protocol"], columns="metric", values="value", aggfunc="first").reset_index()
    wide["corpus"] = wide["corpus"].map(name)
    cols = ["corpus", "variant", "protocol", *SER_METRICS, *(["ua_tta"] if "ua_tta" in wide else []), "wall_s_per_fold"]
    return md_table(wide[cols].fillna("—"))


def cross_tables(paths: list[str], name=lambda c: c) -> list[str]:
    """Per variant, a matrix of UA: trained on the row's corpus, tested on the column's. Off the
    diagonal, the cross protocol; on it, the speaker-independent folds' mean."""
    cells = defaultdict(list)
    for p in paths:
        corpus, variant, protocol, _ = _parts(p, 4)
        target = corpus if protocol == "speaker" else protocol.removeprefix("cross-")
        if protocol == "speaker" or protocol.startswith("cross-"):
            cells[(variant, corpus, target)].append(json.loads(Path(p).read_text())["test/ua"])
    crossed = sorted({v for v, a, b in cells if a != b})
    md = []
    for variant in crossed:
        mine = {(a, b): np.mean(u) for (v, a, b), u in cells.items() if v == variant}
        corpora = sorted({c for pair in mine for c in pair})
        md += [f"UA of `{variant}`, trained on the row's corpus and tested on the column's:", "",
               "| trained on | " + " | ".join(name(c) for c in corpora) + " |", "|---|" + "---|" * len(corpora)]
        md += [f"| {name(a)} | " + " | ".join(f"{mine[a, b]:.3f}" if (a, b) in mine else "—" for b in corpora) + " |"
               for a in corpora if any((a, b) in mine for b in corpora)]
        md.append("")
    return md


def fusion_weights(paths: list[str], name=lambda c: c) -> list[str]:
    """Per fusion, its members' weights (mean ± std over folds): what each member adds."""
    weights = defaultdict(list)
    for p in paths:
        corpus, variant, protocol, _ = _parts(p, 4)
        result = json.loads(Path(p).read_text())
        if "weights" in result:
            weights[(corpus, variant, protocol, result.get("method", "ua_grid"))].append(result["weights"])
    md = []
    for (corpus, variant, protocol, method), folds in sorted(weights.items()):
        members = list(folds[0])
        md += [f"`{variant}` on {name(corpus)} ({protocol_title(protocol)}, {len(folds)} folds; "
               f"method `{method}`): each member's weight, mean ± std over folds", "",
               "| " + " | ".join(f"`{m}`" for m in members) + " |", "|---" * len(members) + "|",
               "| " + " | ".join("{:.2f} ± {:.2f}".format(*mean_std([f[m] for f in folds])) for m in members) + " |",
               ""]
    return md


def learning_curves(ser_metrics, out_dir: Path) -> dict[tuple[str, str, str], list[Path]]:
    """Each SER fold's history.csv, copied to curves/ser_<corpus>_<variant>_<protocol>_fold<k>.csv
    (the folder `dvc plots show` draws); grouped by corpus x variant x protocol."""
    from ..train.ser import HISTORY_FILE

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.csv"):
        old.unlink()
    groups = defaultdict(list)
    for path in map(Path, ser_metrics):
        history = path.with_name(HISTORY_FILE)
        if not history.exists():  # the linear and fusion variants have no epochs
            continue
        corpus, variant, protocol, fold = path.parts[-5:-1]
        copy = out_dir / f"ser_{corpus}_{variant}_{protocol}_{fold}.csv"
        copy.write_bytes(history.read_bytes())
        groups[corpus, variant, protocol].append(copy)
    return groups


def curves_png(folds: list[Path], title: str, out: Path) -> None:
    plt = _plt()
    fig, (loss_ax, ua_ax) = plt.subplots(1, 2, figsize=(10, 3.2))
    for path in sorted(folds):
        table = pd.read_csv(path)
        fold = path.stem.rsplit("_", 1)[-1]
        loss_ax.plot(table["epoch"], table["train_loss"], label=fold)
        if "val_ua" in table:  # R2's and R3's splits have no validation rows
            ua_ax.plot(table["epoch"], table["val_ua"], label=fold)
    loss_ax.set_title("training loss"); ua_ax.set_title("validation UA")
    for ax in (loss_ax, ua_ax):
        ax.set_xlabel("epoch")
    ua_ax.legend(fontsize=7)
    fig.suptitle(title); fig.tight_layout(); fig.savefig(out, dpi=110); plt.close(fig)


def build(cfg: dict, out_dir: Path, ser=(), translate=(), faces=(), indexes=()) -> list[dict]:
    ser, translate, faces, indexes = ser or [], translate or [], faces or [], indexes or []
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    rows, confusions = ser_rows(ser)
    t_rows, translate_raw = translate_rows(translate)
    f_raw = {tuple(_parts(p, 2)): (Path(p).parent, json.loads(Path(p).read_text())) for p in faces}
    f_rows = faces_report.rows({key: r for key, (_, r) in f_raw.items()})
    rows += t_rows + f_rows
    (out_dir / "metrics.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "summary.json").write_text(json.dumps(summary(rows), indent=2))

    md = ["# emoforge report", ""]
    corpora = {r["corpus"] for r in rows}
    if corpora & SYNTHETIC:
        md += ["> **Synthetic data.** Corpora marked *(synthetic)* are emoforge's built-in demo: speech from a "
               "source-filter synthesizer in RAVDESS's layout and procedurally drawn faces in FER-2013's layout. "
               "Their numbers show that the pipeline works; they are not comparable with published results.", ""]
    name = lambda c: f"{c} (synthetic)" if c in SYNTHETIC else c  # noqa: E731

    md += ["## Corpora", "", "| corpus | items | usable | quarantined |", "|---|---|---|---|"]
    problems = []
    for p in indexes:
        df = pd.read_parquet(p)
        bad = df[df["status"] != "ok"]
        md.append(f"| {name(Path(p).stem)} | {len(df)} | {len(df) - len(bad)} | {len(bad)} |")
        problems += [f"- `{Path(p).stem}/{r.path}`: {r.problem}" for r in bad.head(25).itertuples()]
    if problems:
        md += ["", "Quarantined files (first 25 per corpus):", ""] + problems
    md.append("")

    published = yaml.safe_load((Path(__file__).parent / "published.yaml").read_text())
    if any(r["task"] == "ser" for r in rows):
        md += ["## Speech emotion recognition", "", "Protocol: speaker-independent folds (the test speakers are "
               "never seen in training); validation speakers are carved from the training side; mean ± std over folds.", ""]
        ser_df = pd.DataFrame([r for r in rows if r["task"] == "ser"])
        md += [ser_table(ser_df, name), ""]
        if ser_df["protocol"].str.startswith("random").any():
            md += ["A random split puts clips of the same speaker (and, in RAVDESS, the same sentence) on both "
                   "sides, so the model can recognise the voice rather than the emotion: its numbers are higher "
                   "and do not say how the model does on a new speaker. Speaker-independent folds do.", ""]
        if ser_df["protocol"].str.startswith(("R2", "R3")).any():
            md += ["R2's and R3's protocols are their code's own: one random split (R2 stratified 70/30, R3 "
                   "90/10, here repeated with random_state = fold), so the same actors and sentences are on "
                   "both sides, as with the random split above.", ""]
        cross = cross_tables(ser, name)
        if cross:
            md += ["### Cross-corpus", "", "Trained on one corpus (validation speakers from it too), tested on "
                   "every clip of another over the emotions both have (`ser.cross` in params.yaml).", ""] + cross
        weights = fusion_weights(ser, name)
        if weights:
            md += ["### Fusion weights", "", "Picked on each fold's validation speakers, never its test "
                   "speakers; a member with a weight near 0 did not help.", "", *weights]
        for (corpus, variant), (matrix, labels) in confusions.items():
            png = fig_dir / f"confusion_{corpus}_{variant}.png"
            confusion_png(matrix, labels, f"{name(corpus)} {variant} (all test folds)", png)
            md += [f"![confusion matrix {corpus} {variant}](figures/{png.name})", ""]
        for (corpus, variant, protocol), folds in learning_curves(ser, out_dir / "curves").items():
            png = fig_dir / f"curves_{corpus}_{variant}_{protocol}.png"
            curves_png(folds, f"{name(corpus)} {variant} ({protocol}): one line per fold", png)
            md += [f"![learning curves {corpus} {variant} {protocol}](figures/{png.name})", ""]
        pub = [p for p in published if p["corpus"] in {c for c, _ in confusions}]
        if pub:
            md += ["### Beside published results", "", "| corpus | system | metric | published | protocol | emoforge (best variant) |",
                   "|---|---|---|---|---|---|"]
            for p in pub:
                ours = ser_df[(ser_df.corpus == p["corpus"]) & (ser_df.metric == p["metric"])]
                best = ours.loc[ours["mean"].idxmax()] if len(ours) else None
                md.append(f"| {p['corpus']} | {p['system']} | {p['metric'].upper()} | {p['value']:.3f} | {p['protocol']} | "
                          + (f"{fmt(best)} ({best['variant']}, {best['protocol']})" if best is not None else "—") + " |")
            md.append("")

    if translate_raw:
        md += ["## Emotion translation", ""]
        md += ["Each held-out speaker's clip converted to every other emotion of the same sentence, "
               "resynthesised (with WORLD; r1_unet8 with Griffin-Lim) and compared with the real recording, "
               "both analysed with WORLD: mel-cepstral distortion "
               "(MCD, dB, c1–c24 of the WORLD envelope, DTW-aligned, 10·√2/ln 10), log-F0 RMSE and "
               "correlation over frames voiced in both, and the share of frames whose voicing differs; "
               "mean ± std over test pairs. *no_conversion* is the source recording itself: a converter "
               "must beat it.", ""]
        md += translate_table(translate_raw, name) + [""]

    if f_raw:
        md += ["## Faces", "", faces_report.EXPLAINED, ""]
        md += faces_report.table({key: r for key, (_, r) in f_raw.items()}, name)
        for (corpus, variant), (folder, r) in f_raw.items():
            png = fig_dir / f"faces_{corpus}_{variant}.png"
            faces_png(folder / "samples.npy", r["labels"], png)
            md += ["", f"![generated faces {corpus} {variant}](figures/{png.name})", ""]
    chain_src = [p for p in ser if "/speaker/fold0/" in p]
    chained = []
    if chain_src and f_raw:
        from .chain import chain_png, chain_rows
        best_face = max(f_raw, key=lambda key: f_raw[key][1]["gen/conditional_acc"])
        chained = chain_rows(Path(chain_src[0]).parent, f_raw[best_face][0] / "generator.pt")
        png = fig_dir / "speech_to_face.png"
        chain_png(chained, png)
        md += ["## Speech → emotion → face", "", f"Test clips of {name(_parts(chain_src[0], 4)[0])} "
               f"(fold 0, unseen speakers): the emotion SER heard picks the face {best_face[1]} "
               "draws (calm and boredom are drawn neutral, frustration angry, excited happy: FER-2013 "
               "has none of them).", "", f"![speech to face](figures/{png.name})", ""]
    md += job_costs(Path("logs/benchmarks"))
    md += ["", "Every training run is in MLflow: `mlflow ui --backend-store-uri sqlite:///mlflow.db`.", ""]
    (out_dir / "report.md").write_text("\n".join(md))
    from .html import listening_section, seeing_section, write_page
    converter_dirs = {tuple(_parts(p, 2)): Path(p).parent for p in translate}
    listen = listening_section(converter_dirs, out_dir, int(cfg.get("translate", {}).get("listen_pairs", 4)))
    if chained:
        corpus = _parts(chain_src[0], 4)[0]
        index = next((Path(p) for p in indexes if Path(p).stem == corpus), None)
        root = cfg.get("roots", {}).get(corpus)
        listen += seeing_section(chained, index, Path(root) if root else None, out_dir)
    write_page("\n".join(md), listen, out_dir / "report.html")
    return rows
