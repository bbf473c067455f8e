"""SYNTHETIC demo faces in FER-2013's image-folder layout (48x48 grayscale, 7 classes).

Drawn at 4x size then reduced: brows, eyes and mouth depend on the emotion; face
shape, tone, pose, lighting and noise vary per face.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from ..labels import FER_CLASSES

S = 192  # drawing size; saved at 48


@dataclass(frozen=True)
class Expression:
    brow_raise: float   # both brows up (+) or down (-), px at drawing size
    brow_tilt: float    # inner ends up (+, sad/fear) or down (-, angry)
    eye_open: float     # eye height ratio
    mouth_curve: float  # corners up (+) or down (-)
    mouth_open: float   # jaw opening, px
    mouth_width: float  # ratio
    wrinkle: float      # nose wrinkle (disgust)


EXPRESSIONS = {
    "angry":    Expression(-8, -12, 0.55, -4, 4, 0.85, 0.0),
    "disgust":  Expression(-5, -4, 0.50, -10, 3, 0.80, 1.0),
    "fear":     Expression(10, 9, 1.45, -3, 14, 1.05, 0.0),
    "happy":    Expression(2, 0, 0.70, 14, 6, 1.20, 0.0),
    "sad":      Expression(0, 11, 0.75, -12, 0, 0.85, 0.0),
    "surprise": Expression(16, 2, 1.60, 0, 24, 0.70, 0.0),
    "neutral":  Expression(0, 0, 1.00, 0, 0, 1.00, 0.0),
}


def draw_face(emotion: str, rng: np.random.Generator) -> np.ndarray:
    e = EXPRESSIONS[emotion]
    j = lambda v, s: v + rng.normal(0, s)  # noqa: E731 - per-face jitter of one parameter
    bg, skin = int(rng.uniform(20, 120)), int(rng.uniform(120, 220))
    img = Image.new("L", (S, S), bg)
    d = ImageDraw.Draw(img)
    cx, cy = j(S / 2, 6), j(S / 2 + 6, 6)
    fw, fh = j(64, 5), j(80, 5)
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    d.chord([cx - fw - 2, cy - fh - 8, cx + fw + 2, cy - fh + j(50, 8)], 180, 360, fill=int(rng.uniform(10, 90)))
    dark = max(0, skin - int(rng.uniform(90, 130)))
    eye_y, eye_dx = cy - j(14, 2), j(26, 2)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        ew, eh = j(13, 1.5), max(1.5, j(8 * e.eye_open, 1))
        d.ellipse([ex - ew, eye_y - eh, ex + ew, eye_y + eh], fill=min(255, skin + 35))
        d.ellipse([ex - 5, eye_y - min(eh, 5), ex + 5, eye_y + min(eh, 5)], fill=dark)
        by = eye_y - j(20, 2) - e.brow_raise
        inner, outer = (ex - side * 14, by - e.brow_tilt / 2), (ex + side * 16, by + e.brow_tilt / 2)
        d.line([inner, outer], fill=dark, width=int(j(6, 1)))
    d.line([(cx, eye_y + 6), (cx - 5, cy + 16), (cx + 4, cy + 18)], fill=dark + 20, width=3)
    if e.wrinkle:
        for dx in (-7, 7):
            d.line([(cx + dx, eye_y + 4), (cx + dx * 1.4, eye_y + 14)], fill=dark + 10, width=2)
    my, mw = cy + j(40, 3), j(24, 2) * e.mouth_width
    curve, gap = j(e.mouth_curve, 2), max(0.0, j(e.mouth_open, 2))
    xs = np.linspace(-mw, mw, 24)
    upper = [(cx + x, my - curve * (x / mw) ** 2 - gap / 2) for x in xs]
    lower = [(cx + x, my - curve * (x / mw) ** 2 + gap / 2 + gap * (1 - (x / mw) ** 2)) for x in xs]
    if gap > 2:
        d.polygon(upper + lower[::-1], fill=max(0, dark - 20))
    d.line(upper, fill=dark, width=4)
    if gap > 2:
        d.line(lower, fill=dark, width=3)
    img = img.rotate(rng.uniform(-9, 9), resample=Image.BILINEAR, fillcolor=bg)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0))).resize((48, 48), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32)
    light = np.linspace(rng.uniform(-25, 0), rng.uniform(0, 25), 48)
    arr = arr + (light[None, :] if rng.random() < 0.5 else light[:, None]) + rng.normal(0, 6, arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def generate(dest: Path, per_class: dict[str, int], seed: int = 0) -> int:
    """Write dest/<split>/<fer class>/<n>.png; existing files are kept (deterministic)."""
    jobs = [(split, cls, i) for split, n in per_class.items() for cls in FER_CLASSES for i in range(n)]
    for split, cls, i in tqdm(jobs, desc="demo faces (synthetic)", unit="img"):
        path = dest / split / cls / f"{i:05d}.png"
        if path.exists():
            continue
        rng = np.random.default_rng([seed, FER_CLASSES.index(cls), i, 0 if split == "train" else 1])
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw_face(cls, rng), mode="L").save(path)
    (dest / "SYNTHETIC.txt").write_text(
        "This corpus is SYNTHETIC: emoforge's demo faces, drawn procedurally.\n"
        "It follows FER-2013's image-folder layout only; it is not FER-2013.\n")
    return len(jobs)
