# Emotion translation: one GAN per corpus x variant, held-out speakers for testing.
rule translate:
    input:
        "data/features/{corpus}/logmel.parquet",
    output:
        metrics="data/models/translate/{corpus}/{variant}/metrics.json",
        model="data/models/translate/{corpus}/{variant}/generator.pt",
    params:
        cfg=lambda w: task_json("translate"),
    threads: min(2, workflow.cores)
    resources:
        gpu=gpu_resources(),
    log:
        "logs/translate/{corpus}_{variant}.log",
    benchmark:
        "logs/benchmarks/translate_{corpus}_{variant}.tsv"
    shell:
        "{EMOFORGE} translate --corpus {wildcards.corpus} --variant {wildcards.variant} --cfg {params.cfg:q} "
        "--threads {threads} --features data/features/{wildcards.corpus} "
        "--out data/models/translate/{wildcards.corpus}/{wildcards.variant} 2>&1 | tee {log}"


TRANSLATE_METRICS = expand(
    "data/models/translate/{corpus}/{variant}/metrics.json",
    corpus=TRANSLATE_CORPORA,
    variant=config["translate"]["variants"],
)
