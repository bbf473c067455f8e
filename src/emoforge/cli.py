"""`emoforge <stage> ...`: what every Snakemake rule runs. Each stage reads its config
section as JSON (`--cfg`), so Snakemake sees config changes as parameter changes."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("emoforge")


def _corpus(args):
    from .corpora import check_config, corpus_type
    cfg = json.loads(args.cfg)
    check_config({args.corpus: cfg})
    return corpus_type(args.corpus, cfg), cfg


def cmd_download(args) -> None:
    """Fetch (or, for the demo, generate) a corpus into --out, then write --done."""
    from .download import Remote, fetch_and_extract

    corpus, cfg = _corpus(args)
    out = Path(args.out)
    if cfg.get("url"):  # a user-given mirror with its checksum
        if not (cfg.get("sha256") or cfg.get("md5")):
            raise SystemExit(f"corpus {args.corpus}: a download url needs sha256 or md5 in params.yaml")
        name = cfg.get("filename") or cfg["url"].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        fetch_and_extract(Remote(cfg["url"], name, md5=cfg.get("md5"), sha256=cfg.get("sha256")), out)
    elif corpus.download:
        corpus.download(out, cfg)
    else:
        raise SystemExit(f"corpus {args.corpus}: {corpus.how_to_get or 'no public download.'} Put your copy "
                         f"somewhere and set corpora.{args.corpus}.path in params.yaml (or give url + sha256).")
    Path(args.done).write_text("ok\n")


def cmd_index(args) -> None:
    from .corpora import raw_root, write_index

    corpus, cfg = _corpus(args)
    root = Path(args.root) if args.root else raw_root(args.corpus, cfg)
    if not root.exists():
        raise SystemExit(f"corpus {args.corpus}: {root} does not exist")
    df = write_index(corpus.index(root, cfg, corpus=args.corpus), Path(args.out))
    bad = int((df["status"] != "ok").sum())
    print(f"{args.corpus}: {len(df)} items, {bad} quarantined -> {args.out}")
    if bad == len(df):
        raise SystemExit(f"corpus {args.corpus}: every item was quarantined; see the 'problem' column of {args.out}")


def cmd_features(args) -> None:
    from .corpora import raw_root
    from .features.audio import MelConfig
    from .features.extract import extract_audio, extract_images, extract_vectors

    corpus, cfg = _corpus(args)
    root = Path(args.root) if args.root else raw_root(args.corpus, cfg)
    if corpus.modality == "image":
        extract_images(Path(args.index), root, Path(args.out_dir))
    elif args.vectors:
        extract_vectors(Path(args.index), root, Path(args.out_dir), MelConfig.from_params(json.loads(args.features or "{}")),
                        tuple(args.vectors), workers=args.threads)
    else:
        extract_audio(Path(args.index), root, Path(args.out_dir), MelConfig.from_params(json.loads(args.features or "{}")),
                      workers=args.threads)


def _train(args, module: str):
    import importlib

    cfg = json.loads(args.cfg)
    if cfg.get("device", "auto") != "cpu":
        from .devices import take_gpu_slot
        take_gpu_slot()  # before torch starts CUDA: this job's own GPU, if the machine has several
    import torch

    torch.set_num_threads(max(1, args.threads))
    fit = importlib.import_module(f".train.{module}", __package__).fit
    return fit, cfg


def cmd_ser(args) -> None:
    from .train import ser_fit
    from .train.ser import Paths
    _, cfg = _train(args, "ser")
    r = ser_fit(args.variant)(cfg, Paths(Path(args.features), Path(args.out)), args.corpus, args.variant, args.fold,
            args.protocol or "speaker")
    print(f"test UA {r['test/ua']:.3f}  WA {r['test/wa']:.3f}  F1 {r['test/f1']:.3f}")


def cmd_translate_world(args) -> None:
    """Convert held-out speakers' clips with a converter (WORLD or R1); a WAV per test pair, and metrics."""
    from .train.translate_world import fit
    r = fit(json.loads(args.cfg), Path(args.index), Path(args.root), Path(args.out), args.corpus, args.variant,
            workers=args.threads, judge_table=Path(args.judge_features) if args.judge_features else None)
    part = "val" if "val/pairs" in r else "test"
    heard = f", heard as the target {r[f'{part}/conversion_acc']:.3f}" if f"{part}/conversion_acc" in r else ""
    print(f"{part} MCD {r[f'{part}/mcd_db']:.2f} dB, log-F0 RMSE {r[f'{part}/logf0_rmse']:.3f}{heard} "
          f"over {r[f'{part}/pairs']} pairs")


def cmd_translate(args) -> None:
    """Convert a recording to another emotion with a trained converter."""
    from .translate_clip import translate_file
    model = translate_file(Path(args.input), Path(args.output), args.to, args.source_emotion,
                           Path(args.model) if args.model else None)
    print(f"{args.input} ({args.source_emotion}) -> {args.to}: {args.output} (model {model})")


def cmd_predict(args) -> None:
    """The emotion a trained SER model hears in each recording (files or folders)."""
    from . import predict
    if args.variant and not args.corpus:
        raise ValueError("--variant needs --corpus: the variant trained on which corpus?")
    model_file = predict.resolve(args.model, args.corpus, args.variant)
    rows = predict.load(model_file).predict_files(predict.expand(args.inputs), skip_unreadable=True)
    _write_rows(rows, args, f"model: {args.model or model_file}")


def _write_rows(rows: list[dict], args, source: str) -> None:
    """Prediction rows to -o CSV, --json or a table; unreadable inputs are logged, not fatal."""
    failed = [row for row in rows if "error" in row]
    for row in failed:
        log.error("%s", row["error"])
    if args.output:
        import pandas as pd
        pd.DataFrame(rows).to_csv(args.output, index=False)
        print(f"{len(rows) - len(failed)} files -> {args.output}")
    elif args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_predictions([row for row in rows if "error" not in row])
    print(source + (f"; {len(failed)} files unreadable" if failed else ""), file=sys.stderr)


def _print_predictions(rows: list[dict]) -> None:
    width = max((len(r["path"]) for r in rows), default=0)
    for row in rows:
        ranked = sorted((k.removeprefix("p_") for k in row if k.startswith("p_")), key=lambda k: -row[f"p_{k}"])
        others = ", ".join(f"{k} {row[f'p_{k}']:.2f}" for k in ranked[1:3])
        heard = row["emotion"]
        print(f"{row['path']:<{width}}  {heard:<10} {row['p_' + heard]:.2f}  ({others})")


def cmd_register(args) -> None:
    """Register each corpus's best model per task in the MLflow Model Registry (see emoforge.registry)."""
    from .registry import register_champions
    metrics = {"ser": args.ser or [], "translate": args.translate or [], "faces": args.faces or [],
               "face_emotion": args.face_emotion or []}
    for by_corpus in register_champions(metrics, Path(args.out)).values():
        for row in by_corpus.values():
            fold = f" fold {row['fold']}" if "fold" in row else ""
            version = f"version {row['version']}" if row["version"] else "not registered"
            print(f"{row['name']}@{row['alias']} = {version}: {row['variant']}{fold}")


def cmd_tracking_init(args) -> None:
    """Create the MLflow store and experiments before parallel jobs log to them."""
    from .tracking import prepare, tracking_uri
    prepare(args.experiments)
    print(f"MLflow: {tracking_uri()} holds experiments {', '.join(args.experiments)}")


def cmd_face_classifier(args) -> None:
    """Train a corpus's face-emotion classifier (validation from training, tested on the test split)."""
    fit, cfg = _train(args, "face_classifier")
    r = fit(cfg, Path(args.features), Path(args.out), args.corpus)
    print(f"face-emotion classifier: test accuracy {r['test/wa']:.3f}, UA {r['test/ua']:.3f} "
          f"(validation {r['val/wa']:.3f} at epoch {r['best_epoch']})")


def cmd_faces(args) -> None:
    """Train a conditional face GAN; the face-emotion classifier scores its faces."""
    fit, cfg = _train(args, "faces")
    r = fit(cfg, Path(args.features), Path(args.classifier), Path(args.out), args.corpus, args.variant)
    print(f"conditional accuracy {r['gen/conditional_acc']:.3f} (real test faces "
          f"{r['judge_real_test/wa']:.3f}), FID {r['gen/fid']:.4g}, diversity {r['gen/diversity']:.2f}")


def cmd_face_emotion(args) -> None:
    """The emotion on each face image (files or folders), by a trained face-emotion classifier."""
    from .facial import classify_images, face_paths, model_file
    classifier = model_file(args.model, "face_emotion", "face-emotion", "classifier.pt", "--model")
    rows = classify_images(classifier, face_paths(args.inputs), skip_unreadable=True)
    _write_rows(rows, args, f"model: {args.model or classifier}")


def cmd_face(args) -> None:
    """Hear the emotion in a recording and draw a face showing it (speech -> SER -> face GAN)."""
    from .facial import face_for_speech
    r = face_for_speech(Path(args.input), Path(args.output), args.seed, args.ser_model, args.generator)
    print(f"{r['path']}: heard {r['heard']} ({r['p_heard']:.2f}) -> a {r['face']} face: {r['png']}")


def cmd_report(args) -> None:
    from .report.build import build
    build(json.loads(args.cfg), Path(args.out_dir), ser=args.ser, translate=args.translate, faces=args.faces,
          indexes=args.indexes)


def cmd_benchmark(args) -> None:
    """Fold metrics -> a benchmark file: rows as in reports/metrics.json, plus wall time and device."""
    from .report.build import benchmark
    benchmark(args.ser, Path(args.out))


def cmd_benchmark_faces(args) -> None:
    """Face classifier and generator metrics -> a benchmark file (rows, wall time, device)."""
    from .report.faces import benchmark
    benchmark(Path(args.classifier), args.faces, Path(args.out))


def cmd_benchmark_translate(args) -> None:
    """Translation metrics -> a benchmark file: rows as in reports/metrics.json, plus wall time and device."""
    from .report.build import translate_benchmark
    translate_benchmark(args.translate, Path(args.out))


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="emoforge", description=__doc__)
    sub = p.add_subparsers(dest="stage", required=True)

    def stage(name, fn, *opts):
        sp = sub.add_parser(name, help=fn.__doc__)
        sp.add_argument("--cfg", default="{}", help="the stage's config section, as JSON")
        sp.add_argument("--threads", type=int, default=1)
        for o in opts:
            sp.add_argument(f"--{o.rstrip('+?')}", required=not o.endswith(("?", "+")), nargs="*" if o.endswith("+") else None,
                            **({"type": int} if o == "fold" else {}))
        sp.set_defaults(fn=fn)

    stage("download", cmd_download, "corpus", "out", "done")
    stage("index", cmd_index, "corpus", "out", "root?")
    stage("features", cmd_features, "corpus", "index", "out-dir", "root?", "features?", "vectors+")
    stage("ser", cmd_ser, "corpus", "variant", "fold", "features", "out", "protocol?")
    stage("translate-world", cmd_translate_world, "corpus", "variant", "index", "root", "out", "judge-features?")
    stage("face-classifier", cmd_face_classifier, "corpus", "features", "out")
    stage("faces", cmd_faces, "corpus", "variant", "features", "classifier", "out")
    stage("benchmark-faces", cmd_benchmark_faces, "out", "classifier", "faces+")
    stage("benchmark", cmd_benchmark, "out", "ser+")
    stage("benchmark-translate", cmd_benchmark_translate, "out", "translate+")
    stage("register", cmd_register, "out", "ser+", "translate+", "faces+", "face-emotion+")
    stage("report", cmd_report, "out-dir", "ser+", "translate+", "faces+", "indexes+")
    clip = sub.add_parser("translate", help=cmd_translate.__doc__)
    clip.add_argument("input", help="a recording: WAV, FLAC, OGG... (anything libsndfile reads)")
    clip.add_argument("--to", required=True, help="the target emotion, e.g. angry")
    clip.add_argument("--from", dest="source_emotion", default="neutral",
                      help="the emotion the recording is in (default: neutral)")
    clip.add_argument("-o", "--output", required=True, help="the WAV to write")
    clip.add_argument("--model", help="a model.pt from data/models/translate/<corpus>/<variant>/ "
                      "(default: the best trained WORLD converter found there)")
    clip.set_defaults(fn=cmd_translate)
    init = sub.add_parser("tracking-init", help=cmd_tracking_init.__doc__)
    init.add_argument("experiments", nargs="+")
    init.set_defaults(fn=cmd_tracking_init)
    heard = sub.add_parser("predict", help=cmd_predict.__doc__)
    heard.add_argument("inputs", nargs="+", metavar="PATH",
                       help="recordings (WAV, FLAC, OGG... of 0.3-30 s, any rate or channels) or folders of them")
    heard.add_argument("--model", help="a model.pt from data/models/ser/<corpus>/<variant>/<protocol>/fold<k>/, "
                       "or a registered model: models:/emoforge-ser-<corpus>@champion (default: the one "
                       "registered SER model's champion)")
    heard.add_argument("--corpus", help="instead of --model: the model the workflow trained on this corpus "
                       "(the variant and fold with the best validation UA)")
    heard.add_argument("--variant", help="with --corpus: that variant's best fold")
    heard.add_argument("-o", "--output", help="write a CSV: path, emotion, p_<label>..., error")
    heard.add_argument("--json", action="store_true", help="print every label's probability as JSON")
    heard.set_defaults(fn=cmd_predict)
    seen = sub.add_parser("face-emotion", help=cmd_face_emotion.__doc__)
    seen.add_argument("inputs", nargs="+", metavar="PATH",
                      help="face images (PNG, JPEG...; any size, resized whole to 48x48 grayscale) "
                      "or folders of them")
    seen.add_argument("--model", help="a classifier.pt from data/models/face_classifier/<corpus>/, or "
                      "models:/emoforge-face_emotion-<corpus>@champion (default: the one registered)")
    seen.add_argument("-o", "--output", help="write a CSV: path, emotion, p_<label>..., error")
    seen.add_argument("--json", action="store_true", help="print every class's probability as JSON")
    seen.set_defaults(fn=cmd_face_emotion)
    face = sub.add_parser("face", help=cmd_face.__doc__)
    face.add_argument("input", help="a recording (WAV, FLAC...; 0.3-30 s, any rate or channels)")
    face.add_argument("-o", "--output", required=True, help="the PNG to write (192x192: the 48x48 face x4)")
    face.add_argument("--seed", type=int, default=0, help="which face of that emotion (default 0)")
    face.add_argument("--ser-model", help="as predict's --model (default: the one registered SER model)")
    face.add_argument("--generator", help="a generator.pt from data/models/faces/<corpus>/<variant>/, "
                      "or models:/emoforge-faces-<corpus>@champion (default: the one registered)")
    face.set_defaults(fn=cmd_face)
    args = p.parse_args(argv)
    try:
        args.fn(args)
    except (FileNotFoundError, ValueError, KeyError) as e:
        log.error("%s", e)
        sys.exit(1)


if __name__ == "__main__":
    main()
