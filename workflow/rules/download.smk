# Get each corpus: a checksummed, resumable download, or the demo generator.
rule download:
    output:
        touch_flag="data/raw/{corpus}/.emoforge-done",
    params:
        cfg=corpus_json,
        out=lambda w: f"data/raw/{w.corpus}",
    log:
        "logs/download/{corpus}.log",
    shell:
        "{EMOFORGE} download --corpus {wildcards.corpus} --cfg {params.cfg:q} --out {params.out} "
        "--done {output.touch_flag} 2>&1 | tee {log}"
