# Two commands do all set-up on a fresh machine (Python 3.11, package registries only):
#   make demo   - create .venv, install, index the bundled demo gallery, scan the sample listings
#   make test   - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_PIP_ARGS ?=

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU torch first: an unpinned torch would pull gigabytes of CUDA packages. Where the registry
	# serves CUDA builds for this pin (public PyPI on Linux), name the CPU wheels' index:
	#   make demo TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
	$(BIN)/pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0 torchvision==0.28.0
	$(BIN)/pip install --quiet -e ".[test,ray]"
	# The PP-OCR detector's wheel wants opencv-python; we use opencv-python-headless (pyproject.toml).
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/visionguard index build indexes/demo/gallery --out build/demo-index
	$(BIN)/visionguard scan indexes/demo/listings --index build/demo-index --out results.jsonl

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf build results.jsonl .pytest_cache
