"""Frozen self-supervised speech encoders (wav2vec 2.0, WavLM) as feature vectors.

The weights come from the Hugging Face hub on the user's machine the first time a recipe
runs (cached by `transformers`); emoforge never ships them. The vector is the mean over
time of the average of all hidden layers: a frozen encoder plus a small head.
"""
from __future__ import annotations

import numpy as np

# recipe name (data/features/<corpus>/<name>.parquet) -> hub model id
SSL_MODELS = {
    "wavlm_base_plus": "microsoft/wavlm-base-plus",
    "wav2vec2_base": "facebook/wav2vec2-base",
}
_LOADED: dict = {}


def load_encoder(name: str):
    if name not in _LOADED:
        from transformers import AutoModel
        _LOADED[name] = AutoModel.from_pretrained(SSL_MODELS[name]).eval()
    return _LOADED[name]


def embed(audio: np.ndarray, encoder) -> np.ndarray:
    """(samples,) 16 kHz mono -> (hidden,) float32."""
    import torch
    x = torch.from_numpy((audio - audio.mean()) / (audio.std() + 1e-7)).float()[None]
    with torch.no_grad():
        hidden = encoder(x, output_hidden_states=True).hidden_states
    return torch.stack(hidden).mean(0)[0].mean(0).numpy().astype(np.float32)
