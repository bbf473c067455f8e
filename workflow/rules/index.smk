# One Parquet index per corpus, in the shared contract; broken files are quarantined.
checkpoint index:  # a checkpoint: `folds: loso` counts the speakers it lists
    input:
        raw_input,
    output:
        "data/index/{corpus}.parquet",
    params:
        cfg=corpus_json,
        root=raw_root,
    log:
        "logs/index/{corpus}.log",
    shell:
        "{EMOFORGE} index --corpus {wildcards.corpus} --cfg {params.cfg:q} --root {params.root:q} "
        "--out {output} 2>&1 | tee {log}"
