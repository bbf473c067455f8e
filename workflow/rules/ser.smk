# Speech emotion recognition: one job per corpus x variant x speaker fold.
rule ser_fold:
    input:
        ser_inputs,
    output:
        metrics="data/models/ser/{corpus}/{variant}/{protocol}/fold{fold}/metrics.json",
        predictions="data/models/ser/{corpus}/{variant}/{protocol}/fold{fold}/predictions.npz",
    params:
        cfg=ser_json,
    threads: 2
    resources:
        gpu=gpu_resources(),
    log:
        "logs/ser/{corpus}_{variant}_{protocol}_fold{fold}.log",
    benchmark:
        "logs/benchmarks/ser_{corpus}_{variant}_{protocol}_fold{fold}.tsv"
    shell:
        "{EMOFORGE} ser --corpus {wildcards.corpus} --variant {wildcards.variant} --fold {wildcards.fold} "
        "--protocol {wildcards.protocol} --cfg {params.cfg:q} --threads {threads} "
        "--features data/features/{wildcards.corpus} "
        "--out data/models/ser/{wildcards.corpus}/{wildcards.variant}/{wildcards.protocol}/fold{wildcards.fold} "
        "2>&1 | tee {log}"


def ser_metrics(wildcards=None, corpora=SER_CORPORA):
    """Every fold's metrics file; an input function, since a `loso` corpus's folds are known
    only once its index exists."""
    return [
        f"data/models/ser/{corpus}/{variant}/{protocol}/fold{fold}/metrics.json"
        for corpus in corpora
        for variant in config["ser"]["variants"]
        for protocol in ser_setting(variant, "protocols")
        for fold in ser_fold_numbers(corpus)
    ]
