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


# Cross-corpus: train on {corpus}, test on every clip of {target} (ser.cross.pairs).
rule ser_cross:
    input:
        ser_inputs,
    output:
        metrics="data/models/ser/{corpus}/{variant}/cross-{target}/fold{fold}/metrics.json",
        predictions="data/models/ser/{corpus}/{variant}/cross-{target}/fold{fold}/predictions.npz",
    params:
        cfg=cross_json,
    threads: 2
    resources:
        gpu=gpu_resources(),
    log:
        "logs/ser/{corpus}_{variant}_cross-{target}_fold{fold}.log",
    shell:
        "{EMOFORGE} ser --corpus {wildcards.corpus} --variant {wildcards.variant} --fold {wildcards.fold} "
        "--protocol cross --cfg {params.cfg:q} --threads {threads} "
        "--features data/features/{wildcards.corpus} "
        "--out data/models/ser/{wildcards.corpus}/{wildcards.variant}/cross-{wildcards.target}/fold{wildcards.fold} "
        "2>&1 | tee {log}"


def cross_metrics(wildcards=None):
    """One fold (validation speakers from fold 0 of the training corpus) per pair and variant."""
    cross = config["ser"]["cross"]
    return [
        f"data/models/ser/{pair['train']}/{variant}/cross-{pair['test']}/fold0/metrics.json"
        for pair in cross["pairs"]
        for variant in cross["variants"]
    ]


def ser_metrics(wildcards=None, corpora=SER_CORPORA):
    """Every fold's metrics file; an input function, since a `loso` corpus's folds are known
    only once its index exists."""
    return [
        f"data/models/ser/{corpus}/{variant}/{protocol}/fold{fold}/metrics.json"
        for corpus in corpora
        for variant in config["ser"]["variants"]
        for protocol in ser_setting(variant, "protocols")
        for fold in ser_variant_folds(corpus, variant)
    ]
