# Conditional face GAN per face corpus x variant, judged by a classifier of real faces.
rule faces:
    input:
        "data/features/{corpus}/images.parquet",
    output:
        metrics="data/models/faces/{corpus}/{variant}/metrics.json",
        model="data/models/faces/{corpus}/{variant}/generator.pt",
    params:
        cfg=lambda w: task_json("faces"),
    threads: 2
    resources:
        gpu=gpu_resources(),
    log:
        "logs/faces/{corpus}_{variant}.log",
    benchmark:
        "logs/benchmarks/faces_{corpus}_{variant}.tsv"
    shell:
        "{EMOFORGE} faces --corpus {wildcards.corpus} --variant {wildcards.variant} --cfg {params.cfg:q} "
        "--threads {threads} --features data/features/{wildcards.corpus} "
        "--out data/models/faces/{wildcards.corpus}/{wildcards.variant} 2>&1 | tee {log}"


FACES_METRICS = expand(
    "data/models/faces/{corpus}/{variant}/metrics.json",
    corpus=FACES_CORPORA,
    variant=config["faces"]["variants"],
)
