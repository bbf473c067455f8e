# The face-emotion classifier per face corpus (a product, and the judge of every generator),
# then one conditional face GAN per face corpus x variant, scored by that classifier.
rule face_classifier:
    input:
        "data/features/{corpus}/images.parquet",
    output:
        metrics="data/models/face_classifier/{corpus}/metrics.json",
        model="data/models/face_classifier/{corpus}/classifier.pt",
    params:
        cfg=lambda w: json.dumps(
            config["faces"]["classifier"] | {"seed": config["seed"], "device": config["device"]},
            sort_keys=True),
    threads: 2
    resources:
        gpu=gpu_resources(),
    log:
        "logs/faces/{corpus}_classifier.log",
    benchmark:
        "logs/benchmarks/face_classifier_{corpus}.tsv"
    shell:
        "{EMOFORGE} face-classifier --corpus {wildcards.corpus} --cfg {params.cfg:q} "
        "--threads {threads} --features data/features/{wildcards.corpus} "
        "--out data/models/face_classifier/{wildcards.corpus} 2>&1 | tee {log}"


rule faces:
    input:
        images="data/features/{corpus}/images.parquet",
        classifier="data/models/face_classifier/{corpus}/classifier.pt",
    output:
        metrics="data/models/faces/{corpus}/{variant}/metrics.json",
        model="data/models/faces/{corpus}/{variant}/generator.pt",
    params:
        cfg=lambda w: task_json("faces", ("corpora", "variants", "classifier")),
    threads: 2
    resources:
        gpu=gpu_resources(),
    log:
        "logs/faces/{corpus}_{variant}.log",
    benchmark:
        "logs/benchmarks/faces_{corpus}_{variant}.tsv"
    shell:
        "{EMOFORGE} faces --corpus {wildcards.corpus} --variant {wildcards.variant} --cfg {params.cfg:q} "
        "--threads {threads} --features data/features/{wildcards.corpus} --classifier {input.classifier} "
        "--out data/models/faces/{wildcards.corpus}/{wildcards.variant} 2>&1 | tee {log}"


FACE_CLASSIFIER_METRICS = expand("data/models/face_classifier/{corpus}/metrics.json",
                                 corpus=FACES_CORPORA)
FACES_METRICS = expand(
    "data/models/faces/{corpus}/{variant}/metrics.json",
    corpus=FACES_CORPORA,
    variant=config["faces"]["variants"],
)
