# Log-mel shards + MFCC statistics (speech corpora), image tensors (face corpora).
FEATURES_SHELL = (
    "{EMOFORGE} features --corpus {wildcards.corpus} --cfg {params.cfg:q} --root {params.root:q} "
    "--index {input.index} --out-dir data/features/{wildcards.corpus} --features {params.features:q} "
    "--vectors {params.vectors} --threads {threads} 2>&1 | tee {log}"
)


rule features_audio:
    input:
        index="data/index/{corpus}.parquet",
    output:
        logmel="data/features/{corpus}/logmel.parquet",
        vectors=expand("data/features/{{corpus}}/{vector}.parquet", vector=VECTOR_FEATURES),
    params:
        cfg=corpus_json,
        root=raw_root,
        features=json.dumps(config["features"], sort_keys=True),
        vectors=" ".join(VECTOR_FEATURES),
    threads: workflow.cores
    log:
        "logs/features/{corpus}_audio.log",
    benchmark:
        "logs/benchmarks/features_{corpus}_audio.tsv"
    shell:
        FEATURES_SHELL


rule features_images:
    input:
        index="data/index/{corpus}.parquet",
    output:
        manifest="data/features/{corpus}/images.parquet",
        images="data/features/{corpus}/images.npy",
    params:
        cfg=corpus_json,
        root=raw_root,
        features="{}",
        vectors="",
    threads: 1
    log:
        "logs/features/{corpus}_images.log",
    benchmark:
        "logs/benchmarks/features_{corpus}_images.tsv"
    shell:
        FEATURES_SHELL
