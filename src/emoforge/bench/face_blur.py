"""`make bench-faces-blur`: what the blurred training faces of the shared FER-2013 copy cost.

The image-folder FER-2013 beside the repository (../shared/data/fer2013, for development only)
has training faces far blurrier than its test faces. The first rows of the original
fer2013.csv (../shared/data/fer2013-csv-head) are training faces with their original pixels.
`prepare` finds each of them in the image-folder copy, fits the blur (a Gaussian, sigma chosen
by least squares) and writes two image-folder corpora of the same faces, both with the copy's
own test split: `original` (the CSV's pixels) and `shipped` (the copy's). The workflow trains
the classifier stage on each with the faces benchmark's recipe (config/bench_faces_blur.yaml);
`report` writes the benchmark rows and table.

    python -m emoforge.bench.face_blur prepare --csv fer2013_head.csv --folders fer2013 \\
        --out data/face_blur
    python -m emoforge.bench.face_blur report --blur data/face_blur/blur.json \\
        --original <classifier metrics.json> --shipped <classifier metrics.json> \\
        --out reports/benchmarks/faces_blur.json
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ..corpora.fer2013 import IMAGE_SUFFIXES, load_image, parse_pixels
from ..labels import FER_CLASSES
from ..report.faces import CLASSIFIER_METRICS, _row
from ..train.face_classifier import sharpness

SIGMAS = np.round(np.arange(0.0, 6.01, 0.1), 2)  # px; the candidates the fit chooses from
SAME_FACE_RMSE = 6.0  # grey levels: above this, a CSV face and its best match are not one face
BLOCK = 8  # px; faces are matched on 8x8 block means, which blurring barely changes


def read_csv_faces(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """fer2013.csv's faces (N, 48, 48) as float grey levels and their FER class indices."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no rows")
    faces, classes = [], []
    for row_no, row in enumerate(rows):
        try:
            faces.append(parse_pixels(row["pixels"] or ""))
            classes.append(int(row["emotion"]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path} row {row_no} (line {row_no + 2}): {e}") from None
    return np.stack(faces).astype(np.float32), np.array(classes)


def read_folder_faces(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """An image-folder split's faces (N, 48, 48) and their FER class indices."""
    paths = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"{folder}: no <class>/<image> files")
    unknown = sorted({p.parent.name for p in paths if p.parent.name.lower() not in FER_CLASSES})
    if unknown:
        raise ValueError(f"{folder}: folder(s) {unknown} are not FER-2013 classes {FER_CLASSES}")
    faces = [load_image(folder, p.relative_to(folder).as_posix()).astype(np.float32) for p in paths]
    return np.stack(faces), np.array([FER_CLASSES.index(p.parent.name.lower()) for p in paths])


def blurred(faces: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_filter(faces, sigma=(0, sigma, sigma), mode="reflect") if sigma else faces


def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per face, the root mean square difference in grey levels."""
    return np.sqrt(((a - b) ** 2).mean(axis=(1, 2)))


def nearest(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """For each query face, the index of the pool face closest in 8x8 block means."""
    def blocks(faces):
        n, h, w = faces.shape
        grid = faces.reshape(n, h // BLOCK, BLOCK, w // BLOCK, BLOCK)
        return grid.mean(axis=(2, 4)).reshape(n, -1)
    q, p = blocks(queries), blocks(pool)
    distance = (q ** 2).sum(1)[:, None] - 2 * q @ p.T + (p ** 2).sum(1)[None]
    return distance.argmin(axis=1)


def fit_blur(original: np.ndarray, shipped: np.ndarray) -> float:
    """The sigma whose Gaussian takes the original faces closest to the shipped ones (median
    RMSE over faces)."""
    errors = [np.median(rmse(blurred(original, s), shipped)) for s in SIGMAS]
    return float(SIGMAS[int(np.argmin(errors))])


def prepare(csv_path: Path, folders: Path, out: Path) -> dict:
    """Writes out/{original,shipped}/train/<class>/rowNNNNN.png for every CSV face found in the
    folders' training split, links their test split, and returns (and writes) the blur fit."""
    original, classes = read_csv_faces(csv_path)
    pool, pool_classes = read_folder_faces(folders / "train")
    match = nearest(original, pool)
    shipped = pool[match]
    same_class = pool_classes[match] == classes
    sigma = fit_blur(original[same_class], shipped[same_class])
    errors = rmse(blurred(original, sigma), shipped)
    found = np.flatnonzero(same_class & (errors < SAME_FACE_RMSE))
    if not len(found):
        raise ValueError(f"none of {csv_path}'s faces is in {folders / 'train'}")
    for name, faces in (("original", original), ("shipped", shipped)):
        shutil.rmtree(out / name, ignore_errors=True)  # a previous run's faces and test link
        for row in found:
            image = out / name / "train" / FER_CLASSES[classes[row]] / f"row{row:05d}.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(faces[row].round(), 0, 255).astype(np.uint8)).save(image)
        (out / name / "test").symlink_to((folders / "test").resolve(), target_is_directory=True)
    fit = {"csv_rows": len(original), "found": len(found), "sigma_px": sigma,
           "median_rmse": round(float(np.median(errors[found])), 3),
           "unblurred_median_rmse": round(float(np.median(rmse(original, shipped)[found])), 3),
           "sharpness": {"original_train": round(sharpness(original[found] / 127.5), 3),
                         "shipped_train": round(sharpness(shipped[found] / 127.5), 3)}}
    (out / "blur.json").write_text(json.dumps(fit, indent=2))
    return fit


def report(blur: Path, original: Path, shipped: Path, out: Path) -> dict:
    """reports/benchmarks/faces_blur.json (rows, wall time, device) and its .md table."""
    from ..report.build import device_name

    fit = json.loads(blur.read_text())
    runs = {name: json.loads(path.read_text())
            for name, path in (("original", original), ("shipped", shipped))}
    rows = [_row(f"fer2013_{name}", "classifier", metric, run[key])
            | {"wall_s": run["wall_s"], "device": device_name([run])}
            for name, run in runs.items() for metric, key in CLASSIFIER_METRICS.items()]
    result = {"rows": rows, "blur": fit,
              "wall_s": round(sum(r["wall_s"] for r in runs.values()), 2),
              "device": device_name(list(runs.values()))}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    md = ["# Faces benchmark: what the shared copy's blurred training faces cost", "",
          f"Device: {result['device']}; total {result['wall_s']} s.", "",
          f"{fit['found']} of the {fit['csv_rows']} faces of fer2013.csv's first rows were found "
          "in the image-folder copy's training split. The copy's pixels are the CSV's through a "
          f"Gaussian blur of sigma {fit['sigma_px']} px (median RMSE {fit['median_rmse']} grey "
          f"levels after it, {fit['unblurred_median_rmse']} without it). Median sharpness: "
          f"{fit['sharpness']['original_train']} original, "
          f"{fit['sharpness']['shipped_train']} shipped.", "",
          "One classifier (the classifier stage, the faces benchmark's recipe) per training set, "
          "tested on the copy's official test split:", "",
          "| training faces | images | validation accuracy | test accuracy | test UA | "
          "input filter | best epoch / run |", "|---|---|---|---|---|---|---|"]
    for name, run in runs.items():
        cap = f"sharpness cap {run['sharpness_cap']:.2f}" if run["sharpness_cap"] else "none"
        md.append(f"| {name} | {run['train/images']} | {run['val/wa']:.3f} | {run['test/wa']:.3f} "
                  f"| {run['test/ua']:.3f} | {cap} | {run['best_epoch']} / {run['epochs_run']} |")
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="fit the blur and write the two corpora")
    p.add_argument("--csv", type=Path, required=True, help="fer2013.csv (or its first rows)")
    p.add_argument("--folders", type=Path, required=True,
                   help="the image-folder copy (train/, test/)")
    p.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("report", help="benchmark rows and table from the two classifiers")
    for name in ("blur", "original", "shipped", "out"):
        r.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "prepare":
        print(json.dumps(prepare(args.csv, args.folders, args.out), indent=2))
    else:
        report(args.blur, args.original, args.shipped, args.out)


if __name__ == "__main__":
    main()
