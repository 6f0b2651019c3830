# dlcourse: the two commands are `make demo` and `make test` (see README.md).
# Each creates .venv on first use and reinstalls only when pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The venv's bin/ first: nbgrader runs `alembic` and notebooks start the `python3` kernel from PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MPLBACKEND := Agg

NOTEBOOK_DIRS := $(wildcard solutions lectures)
PYTEST_JOBS ?= 2
# Tests run PYTEST_JOBS workers (and grading kernels) side by side: one BLAS/torch thread each.
# Oversubscribed threads on a 2-core machine made notebooks 25-60x slower per matrix product.
TEST_THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

.PHONY: install sandbox postgres chromium site site-check demo test test-unit test-notebooks gpu-check lab release edition doctor clean

install: $(STAMP)

# The grading sandbox (bubblewrap). Installed here when running as root on Debian/Ubuntu
# (CI); elsewhere `dlcourse doctor` says how to get it, and the tests skip the cases that need it.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the grading sandbox)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "bubblewrap not found: grading tests that need the sandbox will be skipped (see dlcourse doctor)"; fi; }

# PostgreSQL's server, for the tests of a shared gradebook (they start a throwaway server of their own).
# Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH. Installed here when
# running as root on Debian/Ubuntu (CI), without another `apt-get update` when the package lists already
# serve it (after `make sandbox`, say); elsewhere the PostgreSQL tests are skipped.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (for the tests of a shared gradebook)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || { \
	      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; \
	  else echo "PostgreSQL server (pg_ctl) not found: the PostgreSQL gradebook tests will be skipped"; fi; }

# Headless Chromium, for the test that opens every page of the course website. Installed here when
# running as root on Debian/Ubuntu (CI); elsewhere that test is skipped with the reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (to test the course website headless)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || { \
	      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; \
	  else echo "chromium not found: the website's browser test will be skipped"; fi; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	@touch $@

demo: $(STAMP) sandbox
	$(BIN)/dlcourse demo

test: $(STAMP) sandbox postgres chromium
	$(TEST_THREADS) $(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadscope tests $(NOTEBOOK_DIRS) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 --timeout=1800

test-unit: $(STAMP)
	$(TEST_THREADS) $(BIN)/python -m pytest -n $(PYTEST_JOBS) tests -m "not pipeline"

test-notebooks: $(STAMP)
	$(TEST_THREADS) $(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadscope $(NOTEBOOK_DIRS) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=300 --timeout=1800

# Every GPU check in one call (on a machine with an NVIDIA GPU): the CUDA tests, a4/a5 graded through
# the sandbox on CUDA, the L10/L11/a4/a5 notebooks; ends in one summary line. The script exits 2 where
# there is no GPU (make then reports an error: nothing was checked). GPU_CHECK_ARGS="--dry-run" prints
# the plan, "--only grade" runs one step (see scripts/gpu_check.py).
gpu-check: $(STAMP) sandbox
	$(BIN)/python scripts/gpu_check.py $(GPU_CHECK_ARGS)

# The course website: lectures (with their outputs) and the assignments' release text as HTML, in site/
# (open site/index.html). BINDER_REPO=OWNER/NAME sets the repository the "on Binder" links launch.
site: $(STAMP)
	$(BIN)/python -m dlcourse.site site $(if $(BINDER_REPO),--binder-repo $(BINDER_REPO))

# Open every page of site/ in headless Chromium: console errors, figures, math, search (make chromium first).
site-check: site
	$(BIN)/python -m dlcourse.site.browser site --screenshot test-artifacts/site-lecture.png

# JupyterLab refuses to start as root without --allow-root (containers).
lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) --notebook-dir=$(CURDIR)

release: $(STAMP)
	$(BIN)/dlcourse release

# The student edition: make edition OUT=../dlcourse-student RELEASED="a1_backprop ..." (see README.md).
OUT ?= ../dlcourse-student
edition: $(STAMP)
	$(BIN)/dlcourse student-edition $(OUT) $(if $(RELEASED),--release-references $(RELEASED))

doctor: $(STAMP)
	$(BIN)/dlcourse doctor

clean:
	rm -rf demo submitted autograded feedback gradebook.db grades.csv grading_report.csv .dlcourse .pytest_cache site test-artifacts
