"""Model registry: variant name -> constructor. A new variant is one entry here.

Constructors are named as "module:attribute" inside this package and imported when a model is
built: the workflow reads the registry while it parses, and importing torch there cost ~1.5 s
per `snakemake` call."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import partial
from typing import Callable


@dataclass(frozen=True)
class Variant:
    name: str
    task: str       # ser | faces (translation converters are emoforge.convert rows)
    feature: str    # which feature file it reads
    factory: str | None  # "module:attribute" in emoforge.models, or None for a fusion
    description: str
    family: str = "torch"  # torch | sklearn | fusion: which fit loop trains it (emoforge.train.ser_fit)
    multitask: bool = False  # returns a dict of heads; auxiliary targets come from the index
    members: tuple[str, ...] = ()  # fusion: the variants whose fold predictions it combines
    options: dict = field(default_factory=dict)  # defaults under ser.model.<name> in params.yaml
    factory_args: dict = field(default_factory=dict)  # fixed keyword arguments of the factory
    recipe: dict = field(default_factory=dict)  # the reference's training settings (ser keys)

    @property
    def build(self) -> Callable | None:
        """The constructor: a torch module (or a GAN's pair), or a scikit-learn estimator."""
        if self.factory is None:
            return None
        module, attribute = self.factory.split(":")
        constructor = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        return partial(constructor, **self.factory_args) if self.factory_args else constructor

    def settings(self, cfg: dict) -> dict:
        """This variant's model options: its defaults, updated by ser.model.<name>."""
        return {**self.options, **cfg.get("model", {}).get(self.name, {})}

    def training(self, ser: dict) -> dict:
        """The `ser` settings this variant trains with: the section, then the variant's recipe,
        then the user's `ser.overrides.<name>`."""
        return {**ser, **self.recipe, **ser.get("overrides", {}).get(self.name, {})}

    def features(self) -> set[str]:
        """The feature files this variant needs, through its members for a fusion."""
        return set().union(*(get(m, "ser").features() for m in self.members)) if self.members else {self.feature}


# R2's notebook (PyTorch): fixed epochs, the last one kept, no class weights, unscaled features.
R2_RECIPE = {"protocols": ["speaker", "r2split"], "optimizer": "adam", "lr": 0.0005, "weight_decay": 0.0005,
             "schedule": "multistep", "gamma": 0.2, "batch_size": 1000, "eval_batch_size": 100,
             "class_weights": "none",
             "label_smoothing": 0.0, "mixup": 0.0, "scale": "none", "patience": 1000}
R2_SEQUENCE_RECIPE = {"lr": 0.005, "weight_decay": 0.0, "epochs": 25, "milestones": []}

STATSPOOL_OPTIONS = {"width": 16, "dropout": 0.3}
STATSPOOL_RECIPE = {"norm": "speaker", "frames": 200, "inference": "whole", "optimizer": "adamw",
                    "schedule": "onecycle", "lr": 0.003, "weight_decay": 0.05, "epochs": 45,
                    "patience": 45, "batch_size": 32, "label_smoothing": 0.1, "mixup": 0.0}
SNGAN_OPTIONS = {"loss": "hinge", "lr": 0.0002, "betas": [0.0, 0.9], "batch_size": 64,
                 "label_smoothing": 0.0, "separate_d_steps": False, "ema": 0.999, "z_dim": 64,
                 "width": 32}

REGISTRY: dict[str, Variant] = {v.name: v for v in (
    Variant("cnn_logmel", "ser", "logmel", "ser_cnn:LogMelCNN",
            "2D CNN on log-mel with attention pooling"),
    Variant("cnn_statspool", "ser", "logmel", "ser_cnn:StatsPoolCNN",
            "ours: four blocks of two 3x3 convolutions, attentive statistics pooling over time; "
            "per-speaker normalisation, SpecAugment, one-cycle AdamW for 45 epochs on 2 s crops, "
            "whole clips at inference",
            options=STATSPOOL_OPTIONS, recipe=STATSPOOL_RECIPE),
    Variant("cnn_statspool_trainval", "ser", "logmel", "ser_cnn:StatsPoolCNN",
            "ours: cnn_statspool's network and recipe, trained on the validation speakers too "
            "(a fold's 20 training-side speakers, not 16); with no validation its 45th epoch is "
            "kept. Not a fusion member: it has no held-out scores to weigh",
            options=STATSPOOL_OPTIONS, recipe=STATSPOOL_RECIPE | {"train_on_val": True}),
    Variant("r4_multitask", "ser", "logmel", "ser_cnn:R4CNN",
            "R4: the whole clip's log-mel as a 128x128 image (dB below its peak), convolutions of 32 "
            "(7x7) and 64 (5x5) with max-pools, SimAM, dense 2048 between dropouts of 0.8; gender, "
            "intensity and (IEMOCAP) V/A/D heads, their losses weighted by learned parameters; "
            "SGD 0.01 (x0.8 after epoch 10), batch 32",
            multitask=True,
            recipe={"norm": "db_max", "resize": 128, "optimizer": "sgd", "momentum": 0.0, "lr": 0.01,
                    "weight_decay": 0.0, "schedule": "multistep", "milestones": [10], "gamma": 0.8,
                    "batch_size": 32, "epochs": 30, "patience": 30, "class_weights": "none",
                    "label_smoothing": 0.0, "mixup": 0.0}),
    Variant("bigru_logmel", "ser", "logmel", "ser_seq:RecurrentClassifier",
            "ours: bidirectional GRU over log-mel frames", factory_args={"cell": "gru"}),
    Variant("bilstm_logmel", "ser", "logmel", "ser_seq:RecurrentClassifier",
            "ours: bidirectional LSTM over log-mel frames", factory_args={"cell": "lstm"}),
    Variant("attention_logmel", "ser", "logmel", "ser_seq:AttentionClassifier",
            "ours: self-attention (Transformer encoder) over log-mel frames"),
    Variant("r3_cnn1d", "ser", "r3_mfcc259", "ser_vector:R3Conv1D",
            "R3: 259-value MFCC vector (clips under 3.5 s left out), 1D CNN with 6 convolutions, "
            "8 classes, RMSprop 1e-4 (Keras decay 1e-6), batch 1024, 600 epochs, last epoch kept",
            recipe={"protocols": ["speaker", "r3split"], "optimizer": "rmsprop", "lr": 0.0001,
                    "schedule": "inverse_time", "lr_decay": 1e-6, "weight_decay": 0.0,
                    "batch_size": 1024, "epochs": 600, "patience": 600, "class_weights": "none",
                    "label_smoothing": 0.0, "mixup": 0.0, "incomplete": "drop"}),
    Variant("r2_alexnet1d", "ser", "r2_frames848", "ser_vector:R2AlexNet1D",
            "R2: 848-value frame-level vector (noisereduce, 18 kHz, 3 s), AlexNet-style 1D CNN; "
            "Adam 5e-4 (weight decay 5e-4) for 50 epochs, then 1e-4 for 25, batch 1000, raw values",
            recipe=R2_RECIPE | {"epochs": 75, "milestones": [50]}),
    Variant("r2_resnet1d", "ser", "r2_frames848", "ser_vector:R2ResNet1D",
            "R2: the 848-value vector, ResNet-1D (five stages of two blocks, flattened head); "
            "Adam 5e-4 (weight decay 5e-4) for 30 epochs, then 1e-4 for 15, batch 1000, raw values",
            recipe=R2_RECIPE | {"epochs": 45, "milestones": [30]}),
    *(Variant(f"r2_{cell}", "ser", "r2_frames848", "ser_vector:R2AcrossBatch",
              f"R2: the 848-value vector, its {title} as its code ran it (across the clips of a "
              "batch, not along the vector); Adam 5e-3, 25 epochs, batch 1000",
              factory_args={"cell": cell}, recipe=R2_RECIPE | R2_SEQUENCE_RECIPE)
      for cell, title in (("gru", "BiGRU"), ("lstm", "BiLSTM"), ("attention", "one-head self-attention"))),
    Variant("wavlm_mlp", "ser", "wavlm_base_plus", "ser_vector:VectorMLP",
            "frozen WavLM-base-plus (downloaded on first use) + MLP head; needs internet once"),
    Variant("egemaps_linear", "ser", "egemaps", "classic:linear",
            "eGeMAPS functionals (openSMILE), per-speaker z-scores, logistic regression", family="sklearn"),
    Variant("compare_linear", "ser", "compare", "classic:linear",
            "ComParE 2016 functionals (openSMILE, 6373 values; the IS13 set), per-speaker z-scores, "
            "logistic regression", family="sklearn",
            # 6373 values want ~30x stronger regularisation than eGeMAPS' 88; large C also fits slowly
            options={"C_grid": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]}),
    Variant("egemaps_svm", "ser", "egemaps", "classic:linear_svm",
            "eGeMAPS functionals, per-speaker z-scores, linear SVM (softmax temperature fitted "
            "out of fold)", family="sklearn"),
    Variant("compare_svm", "ser", "compare", "classic:linear_svm",
            "ComParE 2016 functionals, per-speaker z-scores, linear SVM (softmax temperature "
            "fitted out of fold)", family="sklearn",
            options={"C_grid": [0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01]}),
    Variant("fusion_cnn_compare", "ser", "predictions", None,
            "ours: late fusion of cnn_logmel and compare_linear, weights picked on validation speakers",
            family="fusion", members=("cnn_logmel", "compare_linear"), options={"method": "ua_grid"}),
    Variant("fusion_loglinear", "ser", "predictions", None,
            "ours: cnn_statspool with both functionals' LR and SVM, their log-probabilities "
            "weighted to the lowest log-loss on the validation speakers",
            family="fusion", options={"method": "log_loss"},
            members=("cnn_statspool", "compare_linear", "compare_svm", "egemaps_linear", "egemaps_svm")),
    Variant("r3_cgan", "faces", "images", "face_cgan:r3_generator_and_discriminator",
            "R3 as its notebook trains it: label map as a second channel of a 4-conv "
            "discriminator, z (100) -> 12x12x128 generator, BCE, Adam 2e-4 / 0.5, batch 512 "
            "(256 real, then 256 fake)",
            options={"loss": "bce", "lr": 0.0002, "betas": [0.5, 0.999], "batch_size": 256,
                     "label_smoothing": 0.0, "separate_d_steps": True, "z_dim": 100}),
    Variant("cgan", "faces", "images", "face_cgan:generator_and_discriminator",
            "ours: DCGAN generator, projection discriminator with BatchNorm, BCE with label "
            "smoothing",
            options={"loss": "bce", "lr": 0.0002, "betas": [0.5, 0.999], "batch_size": 32,
                     "label_smoothing": 0.1, "separate_d_steps": False, "z_dim": 64, "width": 32}),
    Variant("sngan_proj", "faces", "images", "face_cgan:generator_and_discriminator",
            "ours: the cgan generator, a spectrally normalised projection discriminator, hinge "
            "loss, Adam 2e-4 / (0, 0.9), EMA of the generator's weights",
            options=SNGAN_OPTIONS, factory_args={"spectral": True}),
    Variant("sngan_proj_ac", "faces", "images", "face_cgan:generator_and_discriminator",
            "ours: sngan_proj with an auxiliary class head on the discriminator (AC-GAN): it "
            "learns the classes from real faces, and G is also trained to be read as its class",
            options={**SNGAN_OPTIONS, "aux_weight": 1.0},
            factory_args={"spectral": True, "auxiliary": True}),
)}


def get(name: str, task: str | None = None) -> Variant:
    if name not in REGISTRY:
        raise KeyError(f"unknown model variant {name!r}; known: {sorted(REGISTRY)}")
    v = REGISTRY[name]
    if task and v.task != task:
        raise ValueError(f"variant {name!r} is a {v.task} model, not {task}")
    return v


__all__ = ["REGISTRY", "Variant", "get"]
