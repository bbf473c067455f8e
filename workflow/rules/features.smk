# Log-mel shards (speech corpora), one Parquet file per fixed-length vector that a chosen SER
# variant reads (speech corpora), image tensors (face corpora).
FEATURES_SHELL = (
    "{EMOFORGE} features --corpus {wildcards.corpus} --cfg {params.cfg:q} --root {params.root:q} "
    "--index {input.index} --out-dir data/features/{wildcards.corpus} --features {params.features:q} "
    "{params.vectors} --threads {threads} 2>&1 | tee {log}"
)


rule features_audio:
    input:
        index="data/index/{corpus}.parquet",
    output:
        logmel="data/features/{corpus}/logmel.parquet",
    params:
        cfg=corpus_json,
        root=raw_root,
        features=json.dumps(config["features"], sort_keys=True),
        vectors="",
    threads: 8  # capped at --cores locally; a cluster profile caps it with max-threads
    log:
        "logs/features/{corpus}_audio.log",
    benchmark:
        "logs/benchmarks/features_{corpus}_audio.tsv"
    shell:
        FEATURES_SHELL


rule features_vector:
    input:
        index="data/index/{corpus}.parquet",
    output:
        "data/features/{corpus}/{vector}.parquet",
    wildcard_constraints:
        vector="|".join(VECTOR_NAMES),
    params:
        cfg=corpus_json,
        root=raw_root,
        features=json.dumps(config["features"], sort_keys=True),
        vectors=lambda w: f"--vectors {w.vector}",
    threads: 8  # capped at --cores locally; a cluster profile caps it with max-threads
    log:
        "logs/features/{corpus}_{vector}.log",
    benchmark:
        "logs/benchmarks/features_{corpus}_{vector}.tsv"
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
