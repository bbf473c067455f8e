# Aggregate every run into reports/metrics.json and the Markdown report.
# `snakemake --report report.zip` gathers the items marked report() below, with their captions.
rule prepare:
    input:
        FEATURE_FILES,
        expand("data/features/{corpus}/{vector}.parquet", corpus=SER_CORPORA, vector=VECTOR_FEATURES),
        JUDGE_FEATURES,


rule train:
    input:
        ser_metrics,
        cross_metrics,
        TRANSLATE_METRICS,
        FACE_CLASSIFIER_METRICS,
        FACES_METRICS,


rule report:
    input:
        ser=lambda w: ser_metrics() + cross_metrics(),
        translate=TRANSLATE_METRICS,
        faces=FACES_METRICS,
        indexes=expand("data/index/{corpus}.parquet", corpus=CORPORA),
    output:
        metrics=report("reports/metrics.json", caption="../report/metrics.rst", category="Metrics"),
        summary="reports/summary.json",
        report=report("reports/report.md", caption="../report/report_md.rst", category="Report"),
        html=report("reports/report.html", caption="../report/report_page.rst", category="Report"),
        listen=directory("reports/listen"),
        figures=report(directory("reports/figures"), patterns=["{name}.png"], caption="../report/figures.rst",
                       category="Figures"),
    # reports/curves/ (the CSVs `dvc plots show` draws) is written too, and left undeclared: a
    # directory() output gets a .snakemake_timestamp file, which DVC's plots refuse to read
    params:
        cfg=json.dumps({k: config[k] for k in ("ser", "translate", "faces")} | {
            "roots": {c: CORPORA[c].get("path") or f"data/raw/{c}" for c in CORPORA}}, sort_keys=True),
    log:
        "logs/report.log",
    shell:
        "{EMOFORGE} report --cfg {params.cfg:q} --out-dir reports --ser {input.ser} --translate {input.translate} "
        "--faces {input.faces} --indexes {input.indexes} 2>&1 | tee {log}"


rule register:
    """Each corpus's best model per task in the MLflow Model Registry, as
    emoforge-<task>-<corpus>@champion (emoforge.registry says how each is chosen)."""
    input:
        ser=ser_metrics,
        translate=TRANSLATE_METRICS,
        faces=FACES_METRICS,
        face_emotion=FACE_CLASSIFIER_METRICS,
    output:
        "reports/registry.json",
    log:
        "logs/register.log",
    shell:
        "{EMOFORGE} register --out {output} --ser {input.ser} --translate {input.translate} "
        "--faces {input.faces} --face-emotion {input.face_emotion} 2>&1 | tee {log}"


rule benchmark_ser:
    """reports/benchmarks/ser_<corpus>.json: every variant's fold metrics and wall time."""
    input:
        lambda w: ser_metrics(corpora=[w.corpus]) + [m for m in cross_metrics() if f"/ser/{w.corpus}/" in m],
    output:
        "reports/benchmarks/ser_{corpus}.json",
    log:
        "logs/benchmark_ser_{corpus}.log",
    shell:
        "{EMOFORGE} benchmark --out {output} --ser {input} 2>&1 | tee {log}"


rule benchmark_translate:
    """reports/benchmarks/translate_<corpus>.json: every WORLD converter's metrics and wall time."""
    input:
        lambda w: expand("data/models/translate/{corpus}/{variant}/metrics.json", corpus=w.corpus,
                         variant=config["translate"]["variants"]),
    output:
        "reports/benchmarks/translate_{corpus}.json",
    log:
        "logs/benchmark_translate_{corpus}.log",
    shell:
        "{EMOFORGE} benchmark-translate --out {output} --translate {input} 2>&1 | tee {log}"


rule benchmark_faces:
    """reports/benchmarks/faces_<corpus>.json: the classifier's and every generator's metrics."""
    input:
        classifier="data/models/face_classifier/{corpus}/metrics.json",
        faces=lambda w: expand("data/models/faces/{corpus}/{variant}/metrics.json", corpus=w.corpus,
                               variant=config["faces"]["variants"]),
    output:
        "reports/benchmarks/faces_{corpus}.json",
    log:
        "logs/benchmark_faces_{corpus}.log",
    shell:
        "{EMOFORGE} benchmark-faces --out {output} --classifier {input.classifier} "
        "--faces {input.faces} 2>&1 | tee {log}"
