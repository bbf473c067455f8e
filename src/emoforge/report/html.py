"""reports/report.html: the Markdown report as a page, led by a listening section where a few
held-out clips play side by side: the source, the real target, and every converter's
conversion, each with its spectrogram and F0 curve. Audio and images go to reports/listen/."""
from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emoforge report</title>
<style>
body {{font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222}}
table {{border-collapse: collapse; margin: 1em 0}} td, th {{border: 1px solid #ccc; padding: 4px 8px}}
th {{background: #f4f4f4}} img {{max-width: 100%}} audio {{width: 220px}}
.listen td {{vertical-align: top; text-align: center}} .listen img {{width: 220px}}
</style></head><body>
{listen}
{report}
</body></html>
"""


def showcase(pairs: pd.DataFrame, count: int) -> pd.DataFrame:
    """Up to `count` test pairs with different target emotions, the first test speaker's first."""
    ordered = pairs.sort_values(["speaker", "source_id", "target_emotion"])
    return ordered.drop_duplicates("target_emotion").head(count)


def clip_png(wav: Path, png: Path, title: str) -> None:
    """Log-mel spectrogram with the WORLD F0 curve over it (right axis)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyworld

    from ..features.audio import MelConfig, log_mel

    audio, sample_rate = sf.read(wav, dtype="float32")
    mel = log_mel(audio, MelConfig(sample_rate=sample_rate, fmax=sample_rate / 2))
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(x, sample_rate, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    fig, ax = plt.subplots(figsize=(3.2, 2.0), dpi=100)
    ax.imshow(mel.T, origin="lower", aspect="auto", cmap="magma",
              extent=(0, len(audio) / sample_rate, 0, mel.shape[1]))
    ax.set_yticks([])
    ax.set_xlabel("s", fontsize=7)
    ax.tick_params(labelsize=7)
    pitch = ax.twinx()
    pitch.plot(times, np.where(f0 > 0, f0, np.nan), color="cyan", linewidth=1)
    pitch.set_ylim(50, 500)
    pitch.tick_params(labelsize=7)
    pitch.set_ylabel("F0 Hz", fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def _cell(wav: Path, name: str, listen: Path, reports: Path, title: str) -> str:
    """Copy the clip beside the page as `name`, draw it, and return its table cell."""
    copy = listen / name
    shutil.copyfile(wav, copy)
    png = copy.with_suffix(".png")
    clip_png(copy, png, title)
    rel = lambda p: html.escape(p.relative_to(reports).as_posix())  # noqa: E731
    return (f'<td><audio controls preload="none" src="{rel(copy)}"></audio><br>'
            f'<img src="{rel(png)}" alt="{html.escape(title)}"></td>')


def listening_section(converter_dirs: dict[tuple[str, str], Path], reports: Path, count: int = 4) -> str:
    """converter_dirs: (corpus, variant) -> the variant's output folder (pairs.csv, audio/, real/)."""
    shutil.rmtree(reports / "listen", ignore_errors=True)  # no clip of an earlier build lingers
    (reports / "listen").mkdir(parents=True)
    parts = []
    for corpus in sorted({c for c, _ in converter_dirs}):
        variants = {v: d for (c, v), d in converter_dirs.items() if c == corpus}
        first = next(iter(variants.values()))
        chosen = showcase(pd.read_csv(first / "pairs.csv"), count)
        listen = reports / "listen" / corpus
        listen.mkdir(parents=True, exist_ok=True)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in ["pair", "source", "real target", *variants])
        rows = []
        for pair in chosen.itertuples():
            source_stem = pair.source_id.rsplit("/", 1)[-1]
            target_stem = pair.target_id.rsplit("/", 1)[-1]
            cells = [f"<td>{html.escape(source_stem)}<br>→ {html.escape(pair.target_emotion)}</td>",
                     _cell(first / "real" / f"{source_stem}.wav", f"{source_stem}.wav", listen, reports,
                           "source"),
                     _cell(first / "real" / f"{target_stem}.wav", f"{target_stem}.wav", listen, reports,
                           "real target")]
            cells += [_cell(folder / "audio" / pair.wav, f"{variant}__{pair.wav}", listen, reports, variant)
                      for variant, folder in variants.items()]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<h2>Listen: {html.escape(corpus)}, held-out speakers</h2>"
                     "<p>Each row: a test speaker's clip, the same speaker and sentence in the target "
                     "emotion (the real recording), and what each converter made of the source. "
                     "Spectrograms are log-mel; the cyan line is F0 (right axis).</p>"
                     f'<table class="listen"><tr>{head}</tr>{"".join(rows)}</table>')
    return "\n".join(parts)


def seeing_section(rows: list[dict], index: Path | None, root: Path | None, reports: Path) -> str:
    """Held-out clips with a player, the emotion SER heard and the face drawn for it."""
    if index is None or root is None:
        return ""
    from PIL import Image

    paths = pd.read_parquet(index, columns=["item_id", "path"]).set_index("item_id")["path"]
    folder = reports / "listen" / "faces"
    folder.mkdir(parents=True, exist_ok=True)
    cells = []
    for k, row in enumerate(rows):
        wav = folder / f"{k}_{row['true']}.wav"
        shutil.copyfile(root / paths[row["item"]], wav)
        png = wav.with_suffix(".png")
        Image.fromarray(row["image"]).resize((144, 144), Image.Resampling.NEAREST).save(png)
        mark = "" if row["true"] == row["predicted"] else ' style="color: firebrick"'
        cells.append(f'<td><audio controls preload="none" src="{html.escape(wav.relative_to(reports).as_posix())}">'
                     f'</audio><br>said <b>{html.escape(row["true"])}</b>, '
                     f'<span{mark}>heard <b>{html.escape(row["predicted"])}</b></span><br>'
                     f'<img src="{html.escape(png.relative_to(reports).as_posix())}" '
                     f'alt="{html.escape(row["face"])} face" style="width: 144px"></td>')
    return ("<h2>Hear and see: speech → emotion → face</h2><p>Held-out speakers' clips (SER fold 0): "
            "play one, read what SER heard, see the face drawn for it.</p>"
            f'<table class="listen"><tr>{"".join(cells)}</tr></table>')


def write_page(report_md: str, listen: str, out: Path) -> None:
    from markdown_it import MarkdownIt
    body = MarkdownIt("commonmark").enable("table").render(report_md)
    out.write_text(PAGE.format(listen=listen, report=body))
