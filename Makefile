# The two commands: `make demo` (set up, build, run the main job) and `make test` (set up,
# build, run every C++ and Python test). Both are safe to re-run; they only do what is missing.
SHELL := /bin/bash
ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
BUILD_DIR := $(ROOT)/build/python
JOBS ?= $(shell nproc)
PYTEST_ARGS ?=
DEMO_ARGS ?=
# Each `make demo` writes a new report folder, so an earlier report is never overwritten.
DEMO_OUT ?= out/demo-$(shell date +%Y%m%d-%H%M%S)

# CMake settings shared by the pip (scikit-build-core) build; the tests are built too.
SKBUILD_FLAGS := -Ccmake.define.STX_BUILD_TESTS=ON \
  -Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -Ccmake.define.CMAKE_CUDA_COMPILER_LAUNCHER=ccache \
  -Cbuild.verbose=true
export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)
export CCACHE_MAXSIZE ?= 10G
# Hash paths relative to the checkout, so a fresh clone elsewhere (CI) reuses this machine's cache.
export CCACHE_BASEDIR ?= $(ROOT)

.PHONY: setup build test test-cpp test-python demo clean

setup:
	@bash scripts/setup.sh

# pip drives the one CMake build (scikit-build-core) and installs stx editable into the venv.
build: setup
	@echo "[build] pip install --no-build-isolation -e . (CMake build in $(BUILD_DIR))"
	@$(PY) -m pip install -q --no-build-isolation --no-deps -e . $(SKBUILD_FLAGS)

test-cpp: build
	@echo "[test] C++ tests (CTest + GoogleTest)"
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-python: build
	@echo "[test] Python tests (pytest)"
	cd $(ROOT) && $(PY) -m pytest -q -ra $(PYTEST_ARGS)

test: test-cpp test-python

demo: build
	cd $(ROOT) && $(PY) -m stx demo --out $(DEMO_OUT) $(DEMO_ARGS)

clean:
	rm -rf build
