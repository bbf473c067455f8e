"""emoforge's models as MLflow pyfuncs, logged as models from code: MLflow stores this file
and the model file (tensors and plain types only), so loading a logged model unpickles nothing.

    model = mlflow.pyfunc.load_model("models:/emoforge-ser-ravdess@champion")
    model.predict(pandas.DataFrame({"path": ["clip.wav"]}))

What predict() takes and returns follows the model file's task:
- ser: a `path` column -> path, emotion, p_<label> for every label;
- translate: `path`, `to`, `output` (and optionally `from`, default neutral) -> the same
  rows, with each converted WAV written to its `output`;
- faces: an `emotion` column (and optionally `seed`) -> emotion, image (48 x 48 uint8 rows);
- face_emotion: a `path` column (face images) -> path, emotion, p_<label> for every label.
"""
from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


def _ser(model_file: Path, table: pd.DataFrame) -> pd.DataFrame:
    from emoforge.predict import load

    return pd.DataFrame(load(model_file).predict_files([Path(p) for p in table["path"]]))


def _translate(model_file: Path, table: pd.DataFrame) -> pd.DataFrame:
    from emoforge.translate_clip import translate_file

    sources = table["from"] if "from" in table else ["neutral"] * len(table)
    for row, source in zip(table.itertuples(), sources):
        translate_file(Path(row.path), Path(row.output), row.to, source, model_file)
    return table


def _faces(model_file: Path, table: pd.DataFrame) -> pd.DataFrame:
    from emoforge.train.faces import generate

    seed = int(table["seed"].iloc[0]) if "seed" in table else 0
    images = generate(model_file, list(table["emotion"]), seed)
    return pd.DataFrame({"emotion": table["emotion"], "image": [image.tolist() for image in images]})


def _face_emotion(model_file: Path, table: pd.DataFrame) -> pd.DataFrame:
    from emoforge.facial import classify_images

    return pd.DataFrame(classify_images(model_file, [Path(p) for p in table["path"]]))


TASKS = {"ser": _ser, "translate": _translate, "faces": _faces, "face_emotion": _face_emotion}


class EmoforgeModel(PythonModel):
    def load_context(self, context) -> None:
        from emoforge.train.common import load_state

        self.model_file = Path(context.artifacts["model"])
        self.task = load_state(self.model_file)["task"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return TASKS[self.task](self.model_file, model_input)


mlflow.models.set_model(EmoforgeModel())
