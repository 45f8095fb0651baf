# Nimbus: `make run` starts the server on its embedded defaults; `make test` runs the whole suite.
# Both set everything up on a fresh machine (Python 3.11 + make): a virtualenv in .venv, the package
# installed editable with its test dependencies (its C extension compiled in place: gcc and
# zlib1g-dev from apt when missing), bubblewrap for function sandboxes when apt exists, and Node.js with
# the AWS SDK for JavaScript v3 for nodejs*.x functions (Debian's nodejs and npm, then
# src/nimbus/runtime/node's pinned packages); `make test` also installs Debian's awscli (AWS CLI v2)
# for the tests that drive it, and Chromium with its driver for the web console's browser tests.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup system-deps node-runtime build-deps test-deps bench lint clean

$(STAMP): pyproject.toml setup.py src/nimbus/_speedups.c | build-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# nimbus._speedups (C) needs a compiler and zlib's header; Debian's packages when they are missing.
build-deps:
	@if ! command -v gcc >/dev/null 2>&1 || [ ! -f /usr/include/zlib.h ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q gcc zlib1g-dev >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q gcc zlib1g-dev >/dev/null 2>&1)) \
	      && echo "installed gcc zlib1g-dev"; \
	  else echo "gcc or zlib1g-dev missing: install them to build nimbus._speedups"; fi; \
	fi

system-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q bubblewrap >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1)) \
	      && echo "installed bubblewrap" || echo "bubblewrap unavailable: functions run without a sandbox"; \
	  else echo "bubblewrap unavailable: functions run without a sandbox"; fi; \
	fi

# nodejs*.x functions: Node.js (Debian's nodejs and npm when missing) and the SDK AWS's Node runtimes carry
node-runtime:
	@if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -q nodejs npm >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nodejs npm >/dev/null 2>&1)) \
	    && echo "installed nodejs npm" || true; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
	  [ -d src/nimbus/runtime/node/node_modules/@aws-sdk/client-s3 ] || (cd src/nimbus/runtime/node && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) \
	    || echo "npm could not install the Node.js runtime's AWS SDK: nodejs functions run without it"; \
	else echo "Node.js/npm unavailable: nodejs*.x functions cannot run"; fi

setup: $(STAMP) system-deps node-runtime

run: setup
	$(VENV)/bin/nimbus serve

# The tests also drive AWS CLI v2 (what most users have; the venv holds v1): Debian's awscli package;
# and the AWS SDK for JavaScript v3 (tests/js, npm).
test-deps:
	@if ! /usr/bin/aws --version 2>/dev/null | grep -q '^aws-cli/2\.'; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q awscli >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q awscli >/dev/null 2>&1)) \
	      && echo "installed awscli (v2)" || echo "AWS CLI v2 unavailable: its tests are skipped"; \
	  else echo "AWS CLI v2 unavailable: its tests are skipped"; fi; \
	fi

	@# the web console's browser tests: Debian's Chromium and its driver (driven by selenium, a test extra)
	@if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1)) \
	      && echo "installed chromium chromium-driver" || echo "Chromium unavailable: the console's browser tests are skipped"; \
	  else echo "Chromium unavailable: the console's browser tests are skipped"; fi; \
	fi

	@# the JavaScript SDK v3 tests: Node (installed by node-runtime, through setup) and tests/js's pinned packages
	@if command -v npm >/dev/null 2>&1; then \
	  [ -d tests/js/node_modules/@aws-sdk/client-kinesis ] || (cd tests/js && npm ci --no-audit --no-fund --silent >/dev/null 2>&1) \
	    || echo "npm could not install tests/js: the JavaScript SDK tests are skipped"; \
	else echo "Node/npm unavailable: the JavaScript SDK tests are skipped"; fi

test: setup test-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1)); } || true
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .nimbus build src/*.egg-info src/nimbus/*.so src/nimbus/runtime/node/node_modules
