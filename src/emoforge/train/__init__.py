"""Fit loops. A SER variant's `family` names the loop that trains it."""
from __future__ import annotations


def ser_fit(variant: str):
    from .. import models
    from . import classic, fusion, ser

    return {"torch": ser.fit, "sklearn": classic.fit, "fusion": fusion.fit}[models.get(variant, "ser").family]
