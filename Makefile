# Plain entry points; README.md documents them.
PYTHON ?= python3
VENV := venv
STACK ?= staging

.PHONY: up preview test test-unit lint render bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

## up STACK=staging|prod: set everything up and run `pulumi up` for the stack
up: $(VENV)/.installed
	./scripts/pulumi-stack.sh up $(STACK)

## preview STACK=...: what `pulumi up` would change
preview: $(VENV)/.installed
	./scripts/pulumi-stack.sh preview $(STACK)

## render STACK=... OUT=dir: write the stack's desired state as the tree gitops delivery syncs (offline)
render: $(VENV)/.installed
	@test -n "$(OUT)" || { echo "usage: make render STACK=staging|prod OUT=dir" >&2; exit 2; }
	$(VENV)/bin/python render.py --stack $(STACK) --out $(OUT)

## test: ruff, then the whole test suite (both tiers: unit, and real servers on 127.0.0.1; tests/README.md)
test: lint
	$(VENV)/bin/pytest

## test-unit: the fast tier only (no server is started)
test-unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m unit

## lint: ruff's checks and formatting (pyproject.toml), changing nothing
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## bench [SIZES="1000 10000 50000"]: hourly cost of the rules and of dashboard refreshes vs the upstream dashboards, on full windows, three metric sources (real prometheus on 127.0.0.1; writes docs/scale.md; SIZES=1000 for a quick run)
SIZES ?= 1000 10000 50000
bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench.benchmark --sizes $(SIZES)

clean:
	rm -rf $(VENV) .pytest_cache
