"""make bench-faces-blur: finding CSV faces in an image-folder copy, fitting its blur, and the
benchmark rows."""
import csv
import json

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from emoforge.bench import face_blur
from emoforge.labels import FER_CLASSES


def smooth_faces(n, rng):
    """Random faces with structure at every scale, in 0-255."""
    noise = rng.normal(size=(n, 48, 48))
    faces = sum(gaussian_filter(noise, sigma=(0, s, s)) * s for s in (0.7, 2.0, 5.0))
    return np.clip(128 + 40 * faces / faces.std(), 0, 255).round()


def write_copy(tmp_path, sigma=2.0, rows=12, strangers=5):
    """A CSV of `rows` faces, and an image-folder copy holding them blurred by `sigma`, shuffled
    among `strangers` other faces; the first CSV face is filed under a different class."""
    rng = np.random.default_rng(0)
    faces, others = smooth_faces(rows, rng), smooth_faces(strangers, rng)
    classes = rng.integers(0, len(FER_CLASSES), rows)
    with open(tmp_path / "head.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for face, k in zip(faces, classes):
            writer.writerow([k, " ".join(str(int(v)) for v in face.ravel()), "Training"])
    shipped = gaussian_filter(faces, sigma=(0, sigma, sigma), mode="reflect")
    shipped = np.clip(shipped.round(), 0, 255)
    folder_classes = classes.copy()
    folder_classes[0] = (classes[0] + 1) % len(FER_CLASSES)
    copies = [(f"r{i}", face, k) for i, (face, k) in enumerate(zip(shipped, folder_classes))]
    copies += [(f"s{i}", face, 0) for i, face in enumerate(others)]
    for name, face, k in copies:
        path = tmp_path / "copy" / "train" / FER_CLASSES[k] / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face.astype(np.uint8)).save(path, quality=95)
    (tmp_path / "copy" / "test" / "happy").mkdir(parents=True)
    return faces, classes


def test_prepare_finds_each_face_fits_the_blur_and_writes_both_corpora(tmp_path):
    faces, classes = write_copy(tmp_path, sigma=2.0)
    fit = face_blur.prepare(tmp_path / "head.csv", tmp_path / "copy", tmp_path / "out")
    assert abs(fit["sigma_px"] - 2.0) <= 0.2
    assert fit["found"] == 11  # the face filed under another class is not taken for the same face
    assert fit["median_rmse"] < 3.0 < fit["unblurred_median_rmse"]
    assert fit["sharpness"]["original_train"] > 2 * fit["sharpness"]["shipped_train"]
    out = tmp_path / "out"
    original = out / "original" / "train" / FER_CLASSES[classes[3]] / "row00003.png"
    np.testing.assert_array_equal(np.asarray(Image.open(original)), faces[3])
    shipped = sorted((out / "shipped" / "train").rglob("*.png"))
    assert len(shipped) == 11 and not any(p.name == "row00000.png" for p in shipped)
    assert (out / "shipped" / "test").resolve() == (tmp_path / "copy" / "test").resolve()
    assert json.loads((out / "blur.json").read_text()) == fit


def test_report_writes_classifier_rows_for_both_training_sets(tmp_path):
    fit = {"csv_rows": 12, "found": 11, "sigma_px": 2.0, "median_rmse": 1.0,
           "unblurred_median_rmse": 20.0,
           "sharpness": {"original_train": 9.0, "shipped_train": 3.0}}
    (tmp_path / "blur.json").write_text(json.dumps(fit))
    for name, acc in (("original", 0.43), ("shipped", 0.30)):
        run = {"val/wa": acc, "test/wa": acc, "test/ua": acc - 0.05, "wall_s": 10.0,
               "device": "cpu", "train/images": 11, "best_epoch": 4, "epochs_run": 5,
               "sharpness_cap": 3.0 if name == "shipped" else 0.0}
        (tmp_path / f"{name}.json").write_text(json.dumps(run))
    out = tmp_path / "bench" / "faces_blur.json"
    result = face_blur.report(tmp_path / "blur.json", tmp_path / "original.json",
                              tmp_path / "shipped.json", out)
    rows = {(r["corpus"], r["metric"]): r for r in json.loads(out.read_text())["rows"]}
    assert rows[("fer2013_original", "test_acc")]["mean"] == 0.43
    assert rows[("fer2013_shipped", "test_acc")]["mean"] == 0.30
    assert {r["task"] for r in result["rows"]} == {"faces"} and result["wall_s"] == 20.0
    assert all("wall_s" in r and "device" in r for r in result["rows"])
    table = out.with_suffix(".md").read_text()
    assert "sigma 2.0 px" in table
    assert "| shipped | 11 | 0.300 | 0.300 | 0.250 | sharpness cap 3.00" in table


def test_prepare_names_a_malformed_csv_row_and_a_rerun_leaves_no_stale_faces(tmp_path):
    write_copy(tmp_path)
    out = tmp_path / "out"
    stale = out / "shipped" / "train" / "happy" / "row99999.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from an earlier run")
    face_blur.prepare(tmp_path / "head.csv", tmp_path / "copy", out)
    assert not stale.exists() and (tmp_path / "copy" / "train").is_dir()
    lines = (tmp_path / "head.csv").read_text().splitlines()
    lines[3] = "4,1 2 3,Training"
    (tmp_path / "head.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"row 2 \(line 4\): 3 pixel values"):
        face_blur.prepare(tmp_path / "head.csv", tmp_path / "copy", out)


def test_prepare_refuses_a_folder_that_is_not_a_fer_class(tmp_path):
    write_copy(tmp_path)
    stray = tmp_path / "copy" / "train" / "Smiling" / "x.jpg"
    stray.parent.mkdir()
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(stray)
    with pytest.raises(ValueError, match=r"\['Smiling'\] are not FER-2013 classes"):
        face_blur.prepare(tmp_path / "head.csv", tmp_path / "copy", tmp_path / "out")
