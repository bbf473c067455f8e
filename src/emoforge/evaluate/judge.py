"""Emotion conversion accuracy: a SER model that never heard the test speakers says which
emotion a converted clip sounds like.

The judge is one of the linear SER variants (openSMILE functionals, per-speaker z-scores,
logistic regression), trained on the corpus's clips of the training and validation
speakers, with C picked on the validation speakers. A test speaker's z-scores use the
mean and std of all that speaker's real clips: no labels, the usual eGeMAPS protocol."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import models
from ..train.classic import C_GRID
from .metrics import classification


class EmotionJudge:
    def __init__(self, variant: str, table: pd.DataFrame, emotions: list[str],
                 train_speakers: list[str], val_speakers: list[str]):
        self.spec = models.get(variant, "ser")
        if self.spec.family != "sklearn":
            raise ValueError(f"the conversion judge must be a linear SER variant, not {variant!r}")
        self.feature = self.spec.feature
        self.columns = [c for c in table.columns if c.startswith(f"{self.feature}_")]
        if "copy" in table.columns:
            table = table[table["copy"] == 0]
        self.table = table.set_index("item_id")
        values = np.nan_to_num(table[self.columns].to_numpy(np.float64))
        speakers = table["speaker"].astype(str).to_numpy()
        self.stats = {s: (values[speakers == s].mean(0), values[speakers == s].std(0) + 1e-6)
                      for s in np.unique(speakers)}
        self.emotions = list(emotions)
        labelled = table["emotion"].isin(self.emotions).to_numpy()
        x = self.normalise(values, speakers)
        y = table["emotion"].map({e: i for i, e in enumerate(self.emotions)}).to_numpy()
        train = labelled & np.isin(speakers, train_speakers)
        val = labelled & np.isin(speakers, val_speakers)
        if not train.any():
            raise ValueError("the conversion judge has no labelled clips of training speakers")
        self.C, self.val_ua = self._pick_c(x, y.astype(float), train, val)
        trainval = train | val
        self.model = self.spec.build(n_classes=len(self.emotions), n_features=x.shape[1], C=self.C)
        self.model.fit(x[trainval], y[trainval].astype(int))

    def _pick_c(self, x, y, train, val) -> tuple[float, float | None]:
        grid = self.spec.options.get("C_grid", C_GRID)
        if not val.any():
            return grid[len(grid) // 2], None
        scored = []
        for C in grid:
            model = self.spec.build(n_classes=len(self.emotions), n_features=x.shape[1], C=C)
            model.fit(x[train], y[train].astype(int))
            scores = model.predict_proba(x[val])
            scored.append((classification(y[val].astype(int), scores, self.emotions, "val")["val/ua"], C))
        ua, C = max(scored)
        return C, ua

    def normalise(self, values: np.ndarray, speakers) -> np.ndarray:
        unknown = set(speakers) - set(self.stats)
        if unknown:
            raise KeyError(f"the judge has no real clips of speaker(s) {sorted(unknown)} to normalise with")
        mean = np.stack([self.stats[s][0] for s in speakers])
        std = np.stack([self.stats[s][1] for s in speakers])
        return (values - mean) / std

    def predict(self, values: np.ndarray, speakers) -> list[str]:
        """The emotion each row of raw functionals sounds like."""
        x = self.normalise(np.nan_to_num(np.asarray(values, dtype=np.float64)), list(speakers))
        return [self.emotions[i] for i in self.model.predict(x)]

    def vectors_of(self, item_ids) -> np.ndarray:
        """Raw functionals of the corpus's own clips, by item id."""
        return self.table.loc[list(item_ids), self.columns].to_numpy(np.float64)
