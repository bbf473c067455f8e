# Two entry points: `make demo` and `make test`. Both build .venv first (pinned, CPU torch).
VENV ?= .venv
PY := $(VENV)/bin/python
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test run papers mlflow-ui clean-demo bench-ser-ravdess bench-ser-ravdess-fold0 bench-ser-references bench-ser-classic bench-ser-small bench-translate-ravdess bench-faces-fer2013 bench-faces-blur bench-features bench-workflow pull

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	snakemake --cores all

# pytest exits 5 when it collects nothing: that is a broken suite, not a pass.
test: setup
	@$(PY) -m pytest -q -rs $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# Any run with extra config files: targets go first, because --configfile takes every word after it.
#   make run CONFIG="config/papers.yaml my.yaml" TARGETS="reports/report.md"
run: setup
	snakemake --cores $(or $(CORES),all) $(TARGETS) $(if $(CONFIG),--configfile $(CONFIG))

# The real corpora (config/papers.yaml over params.yaml); TARGETS= narrows it
papers:
	$(MAKE) run CONFIG="config/papers.yaml $(CONFIG)"

mlflow-ui: setup
	mlflow ui --backend-store-uri sqlite:///mlflow.db

clean-demo:
	rm -rf data/raw/demo_* data/index/demo_* data/features/demo_* data/models/*/demo_* reports/metrics.json reports/report.md reports/figures

bench-ser-ravdess: setup
	# without an NVIDIA GPU, config/bench_ravdess_cpu.yaml leaves out the speaker folds that would
	# add many hours on CPU and runs one split of R2's and R3's own protocols
	snakemake --cores all reports/benchmarks/ser_ravdess.json --configfile config/bench_ravdess.yaml \
		$(if $(shell nvidia-smi -L 2>/dev/null),,config/bench_ravdess_cpu.yaml)

# The variants that config/bench_ravdess_cpu.yaml leaves out, one fold each: their wall time on this machine
FOLD0 := $(foreach v,r4_multitask bigru_logmel bilstm_logmel attention_logmel r2_alexnet1d r2_resnet1d,\
	data/models/ser/ravdess/$(v)/speaker/fold0/metrics.json)
bench-ser-ravdess-fold0: setup
	snakemake --cores all $(FOLD0) --configfile config/bench_ravdess.yaml
	emoforge benchmark --out reports/benchmarks/ser_ravdess_fold0.json --ser $(FOLD0)

# R2's and R3's own protocols on RAVDESS, one split each (random_state 0), with their code's
# full schedules (R3: 600 epochs at batch 1024): about 1.5 h on 2 CPU cores
REFERENCE_RUNS := data/models/ser/ravdess/r3_cnn1d/r3split/fold0/metrics.json \
	$(foreach v,r2_alexnet1d r2_resnet1d r2_gru r2_lstm r2_attention,data/models/ser/ravdess/$(v)/r2split/fold0/metrics.json)
bench-ser-references: setup
	snakemake --cores all $(REFERENCE_RUNS) --configfile config/bench_ravdess.yaml
	emoforge benchmark --out reports/benchmarks/ser_ravdess_references.json --ser $(REFERENCE_RUNS)

# The functionals' logistic regression and linear SVM, six speaker folds each (minutes on 2 CPU cores)
CLASSIC_RUNS := $(foreach v,egemaps_svm compare_svm egemaps_linear compare_linear,\
	$(foreach k,0 1 2 3 4 5,data/models/ser/ravdess/$(v)/speaker/fold$(k)/metrics.json))
bench-ser-classic: setup
	snakemake --cores all $(CLASSIC_RUNS) --configfile config/bench_ravdess.yaml
	emoforge benchmark --out reports/benchmarks/ser_ravdess_classic.json --ser $(CLASSIC_RUNS)

# The SER defaults on a small corpus (RAVDESS actors 15-24 as a manifest CSV, 520 clips, 5 folds)
SMALL_RUNS := $(foreach v,cnn_logmel cnn_statspool cnn_statspool_trainval egemaps_linear \
	egemaps_svm compare_linear compare_svm \
	fusion_cnn_compare fusion_loglinear,$(foreach k,0 1 2 3 4,data/models/ser/small/$(v)/speaker/fold$(k)/metrics.json))
bench-ser-small: setup
	$(PY) -m emoforge.bench.small_corpus --ravdess ../shared/data/ravdess-16k --out data/small/small.csv
	snakemake --cores all $(SMALL_RUNS) --configfile config/bench_small.yaml
	emoforge benchmark --out reports/benchmarks/ser_small.json --ser $(SMALL_RUNS)

# Every converter on real RAVDESS (R1's clips and actor split): WAVs, metrics, benchmark rows;
# r1_unet8 trains R1's 50 epochs with a GPU, 2 without
bench-translate-ravdess: setup
	snakemake --cores all reports/benchmarks/translate_ravdess.json --configfile config/bench_translate_ravdess.yaml \
		$(if $(shell nvidia-smi -L 2>/dev/null),config/bench_translate_ravdess_gpu.yaml)

# The face-emotion classifier and every face GAN on real FER-2013: classifier accuracy, conditional
# accuracy, FID/KID/diversity in the classifier's features
bench-faces-fer2013: setup
	snakemake --cores all reports/benchmarks/faces_fer2013.json --configfile config/bench_faces_fer2013.yaml

# What the shared copy's blurred training faces cost: the same faces, original (fer2013.csv's first
# rows) and as shipped, one classifier each (about 6 min on 2 cores)
BLUR_RUNS = $(foreach c,original shipped,data/models/face_classifier/fer2013_$(c)/metrics.json)
bench-faces-blur: setup
	$(PY) -m emoforge.bench.face_blur prepare --csv ../shared/data/fer2013-csv-head/fer2013_head.csv \
		--folders ../shared/data/fer2013 --out data/face_blur
	snakemake --cores all $(BLUR_RUNS) --configfile config/bench_faces_blur.yaml
	$(PY) -m emoforge.bench.face_blur report --blur data/face_blur/blur.json \
		--original $(word 1,$(BLUR_RUNS)) --shipped $(word 2,$(BLUR_RUNS)) \
		--out reports/benchmarks/faces_blur.json

# The feature engine against plain librosa / openSMILE loops on the same files, and peak memory
SHARED ?= ../shared/data
bench-features: setup
	$(PY) -m emoforge.bench.features --out reports/benchmarks/features.json \
		--ravdess-16k $(SHARED)/ravdess-16k --ravdess-48k $(SHARED)/ravdess-48k

# A dry run of the full real-corpora graph: the cost of every `snakemake` call before any job
bench-workflow: setup
	$(PY) -m emoforge.bench.workflow --out reports/benchmarks/workflow.json

# After a fresh clone: data and models from the DVC remote, then their times put in
# workflow order (a checkout writes files in any order, which Snakemake reads as stale)
pull: setup
	dvc pull
	snakemake --cores 1 --touch
