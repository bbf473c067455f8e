"""An emoforge SER model as an MLflow pyfunc, logged as a model from code: MLflow stores this
file and the weights file (tensors only), so loading a logged model runs no pickled object.

    model = mlflow.pyfunc.load_model("models:/emoforge-ser-ravdess@champion")
    model.predict(pandas.DataFrame({"path": ["clip.wav"]}))  # path, emotion, p_<label>...
"""
from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class EmotionRecognizer(PythonModel):
    def load_context(self, context) -> None:
        from emoforge.predict import load

        self.recognizer = load(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        paths = [Path(p) for p in model_input["path"]]
        return pd.DataFrame(self.recognizer.predict_files(paths))


mlflow.models.set_model(EmotionRecognizer())
