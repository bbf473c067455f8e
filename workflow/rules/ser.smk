# Speech emotion recognition: one job per corpus x variant x speaker fold.
rule ser_fold:
    input:
        "data/features/{corpus}/logmel.parquet",
    output:
        metrics="data/models/ser/{corpus}/{variant}/fold{fold}/metrics.json",
        model="data/models/ser/{corpus}/{variant}/fold{fold}/model.pt",
    params:
        cfg=lambda w: task_json("ser"),
    threads: min(2, workflow.cores)
    resources:
        gpu=gpu_resources(),
    log:
        "logs/ser/{corpus}_{variant}_fold{fold}.log",
    benchmark:
        "logs/benchmarks/ser_{corpus}_{variant}_fold{fold}.tsv"
    shell:
        "{EMOFORGE} ser --corpus {wildcards.corpus} --variant {wildcards.variant} --fold {wildcards.fold} "
        "--cfg {params.cfg:q} --threads {threads} --features data/features/{wildcards.corpus} "
        "--out data/models/ser/{wildcards.corpus}/{wildcards.variant}/fold{wildcards.fold} 2>&1 | tee {log}"


SER_METRICS = expand(
    "data/models/ser/{corpus}/{variant}/fold{fold}/metrics.json",
    corpus=SER_CORPORA,
    variant=config["ser"]["variants"],
    fold=range(config["ser"]["folds"]),
)
