# emoforge: corpora -> index -> features -> SER / translation / faces -> report.
from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/index.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/ser.smk"
include: "workflow/rules/translate.smk"
include: "workflow/rules/faces.smk"
include: "workflow/rules/report.smk"


onstart:
    # once, before any job: parallel jobs meeting a fresh MLflow store or a missing experiment race
    shell(f"{EMOFORGE} tracking-init ser translate faces")


rule all:
    default_target: True
    input:
        "reports/metrics.json",
        "reports/summary.json",
        "reports/registry.json",
        "reports/report.md",
        "reports/report.html",
