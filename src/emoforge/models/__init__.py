"""Model registry: variant name -> constructor. A new variant is one entry here."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from torch import nn

from . import classic
from .face_cgan import FaceClassifier, FaceDiscriminator, FaceGenerator
from .ser_cnn import LogMelCNN, MultitaskCNN
from .ser_seq import AttentionClassifier, RecurrentClassifier
from .ser_vector import AlexNet1D, R3Conv1D, ResNet1D, VectorMLP
from .translate_unet import PatchDiscriminator, UNetGenerator


@dataclass(frozen=True)
class Variant:
    name: str
    task: str       # ser | translate | faces
    feature: str    # which feature file it reads
    build: Callable[..., nn.Module | tuple[nn.Module, ...]]
    description: str
    family: str = "torch"  # torch | sklearn | fusion: which fit loop trains it (emoforge.train.ser_fit)
    multitask: bool = False  # returns a dict of heads; auxiliary targets come from the index
    members: tuple[str, ...] = ()  # fusion: the variants whose fold predictions it combines
    options: dict = field(default_factory=dict)  # defaults under ser.model.<name> in params.yaml

    def settings(self, cfg: dict) -> dict:
        """This variant's model options: its defaults, updated by ser.model.<name>."""
        return {**self.options, **cfg.get("model", {}).get(self.name, {})}

    def features(self) -> set[str]:
        """The feature files this variant needs, through its members for a fusion."""
        return set().union(*(get(m, "ser").features() for m in self.members)) if self.members else {self.feature}


REGISTRY: dict[str, Variant] = {v.name: v for v in (
    Variant("cnn_logmel", "ser", "logmel", LogMelCNN,
            "2D CNN on log-mel with attention pooling"),
    Variant("r4_multitask", "ser", "logmel", MultitaskCNN,
            "R4: log-mel CNN, attention over feature maps, gender/intensity(/VAD) heads", multitask=True),
    Variant("bigru_logmel", "ser", "logmel", partial(RecurrentClassifier, cell="gru"),
            "R2: bidirectional GRU over log-mel frames"),
    Variant("bilstm_logmel", "ser", "logmel", partial(RecurrentClassifier, cell="lstm"),
            "R2: bidirectional LSTM over log-mel frames"),
    Variant("attention_logmel", "ser", "logmel", AttentionClassifier,
            "R2: self-attention (Transformer encoder) over log-mel frames"),
    Variant("r3_cnn1d", "ser", "r3_mfcc259", R3Conv1D,
            "R3: 259-value MFCC vector, 1D CNN with 6 convolutions"),
    Variant("r2_alexnet1d", "ser", "r2_kaggle", AlexNet1D,
            "R2: 162-value Kaggle vector (ZCR, chroma, MFCC, RMS, mel), AlexNet-shaped 1D CNN"),
    Variant("r2_resnet1d", "ser", "r2_kaggle", ResNet1D,
            "R2: 162-value Kaggle vector, ResNet-shaped 1D CNN"),
    Variant("wavlm_mlp", "ser", "wavlm_base_plus", VectorMLP,
            "frozen WavLM-base-plus (downloaded on first use) + MLP head; needs internet once"),
    Variant("egemaps_linear", "ser", "egemaps", classic.linear,
            "eGeMAPS functionals (openSMILE), per-speaker z-scores, logistic regression", family="sklearn"),
    Variant("compare_linear", "ser", "compare", classic.linear,
            "ComParE 2016 functionals (openSMILE, 6373 values; the IS13 set), per-speaker z-scores, "
            "logistic regression", family="sklearn",
            # 6373 values want ~30x stronger regularisation than eGeMAPS' 88; large C also fits slowly
            options={"C_grid": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]}),
    Variant("fusion_cnn_compare", "ser", "predictions", None,
            "ours: late fusion of cnn_logmel and compare_linear, weights picked on validation speakers",
            family="fusion", members=("cnn_logmel", "compare_linear")),
    Variant("unet_gan", "translate", "logmel",
            lambda n_emotions, **kw: (UNetGenerator(n_emotions, **kw), PatchDiscriminator(n_emotions, **kw)),
            "R1: conditional UNet generator + PatchGAN, BCE + L1"),
    Variant("cgan", "faces", "images",
            lambda n_classes, **kw: (FaceGenerator(n_classes, **kw), FaceDiscriminator(n_classes)),
            "R3: conditional DCGAN, 4-conv discriminator"),
)}


def get(name: str, task: str | None = None) -> Variant:
    if name not in REGISTRY:
        raise KeyError(f"unknown model variant {name!r}; known: {sorted(REGISTRY)}")
    v = REGISTRY[name]
    if task and v.task != task:
        raise ValueError(f"variant {name!r} is a {v.task} model, not {task}")
    return v


__all__ = ["REGISTRY", "Variant", "get", "FaceClassifier"]
