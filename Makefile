# Two entry points for a fresh machine with Python >= 3.11 and pip:
#   make run    set up .venv when missing, then run the whole DAG on the embedded default data (CPU)
#   make test   set up .venv when missing, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
EXTRAS ?= dev,text,slurm,gaze,docs
# Rules call `neuromodels` and `snakemake`: the environment's bin comes first. Nothing is fetched at run time.
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1

.PHONY: run test test-all setup findings benchmarks report dag docs lint clean

$(BIN)/neuromodels: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(BIN)/neuromodels

setup: $(BIN)/neuromodels

run: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES)

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-all: setup
	$(BIN)/python -m pytest -q

# The README's findings table: the default DAG over three seeds (workflow/config/findings.yaml), then the table
# written into README.md from results/findings.csv (commit and date in it).
findings: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) --configfile workflow/config/findings.yaml
	$(BIN)/neuromodels findings readme --table results/findings.csv --readme README.md

benchmarks: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) benchmarks --config bench_threads=0

report: setup
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) report

dag: setup
	mkdir -p docs
	$(BIN)/snakemake --dag | dot -Tsvg > docs/dag.svg
	$(BIN)/snakemake --rulegraph | dot -Tsvg > docs/rulegraph.svg

# The documentation site (docs/, mkdocs.yml) into build/site/; strict: a broken link or a missing page fails.
docs: setup
	$(BIN)/mkdocs build --strict --site-dir build/site

lint: setup
	$(BIN)/ruff format --check neuromodels tests
	$(BIN)/ruff check neuromodels tests
	$(BIN)/snakemake --lint

clean:
	rm -rf results/* .snakemake
