# Emotion translation, held-out speakers for testing: every converter (emoforge.convert: the WORLD
# ones and R1's r1_unet8) reads the audio and writes a WAV per test pair.
from emoforge import convert, models

CONVERTER_VARIANTS = sorted(convert.CONVERTERS)
_unknown = sorted(set(config["translate"]["variants"]) - set(CONVERTER_VARIANTS))
if _unknown:
    raise WorkflowError(
        f"translate.variants names {_unknown}; the converters are {CONVERTER_VARIANTS} (unet_gan, the "
        "log-mel GAN without audio out, is retired: r1_unet8 is R1's GAN as its code built it)"
    )
JUDGE_FEATURE = models.get(config["translate"]["world"]["judge"]).feature
# the conversion judge's vectors belong to the `prepare` stage, like every feature file
JUDGE_FEATURES = expand(
    "data/features/{corpus}/{feature}.parquet", corpus=TRANSLATE_CORPORA, feature=JUDGE_FEATURE
)


rule translate_world:
    input:
        index="data/index/{corpus}.parquet",
        judge=f"data/features/{{corpus}}/{JUDGE_FEATURE}.parquet",
    output:
        metrics="data/models/translate/{corpus}/{variant}/metrics.json",
        pairs="data/models/translate/{corpus}/{variant}/pairs.csv",
        model="data/models/translate/{corpus}/{variant}/model.pt",
    wildcard_constraints:
        variant="|".join(CONVERTER_VARIANTS),
    params:
        cfg=lambda w: json.dumps({**config["translate"]["world"], "folds": config["translate"]["folds"],
                                  "seed": config["seed"], "features": config["features"]}, sort_keys=True),
        root=raw_root,
    threads: 8  # capped at --cores locally; a cluster profile caps it with max-threads
    resources:
        gpu=lambda w: gpu_resources() if convert.CONVERTERS[w.variant].trains_on_gpu else 0,
    log:
        "logs/translate/{corpus}_{variant}.log",
    benchmark:
        "logs/benchmarks/translate_{corpus}_{variant}.tsv"
    shell:
        "{EMOFORGE} translate-world --corpus {wildcards.corpus} --variant {wildcards.variant} "
        "--cfg {params.cfg:q} --threads {threads} --index {input.index} --root {params.root:q} "
        "--judge-features {input.judge} "
        "--out data/models/translate/{wildcards.corpus}/{wildcards.variant} 2>&1 | tee {log}"


TRANSLATE_METRICS = expand(
    "data/models/translate/{corpus}/{variant}/metrics.json",
    corpus=TRANSLATE_CORPORA,
    variant=config["translate"]["variants"],
)
