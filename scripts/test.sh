#!/usr/bin/env bash
# The test command: set everything up on a fresh machine, then lint, type-check and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True OMP_NUM_THREADS=1

if [ "$(id -u)" = 0 ]; then bash scripts/provision-docker.sh; bash scripts/provision-services.sh; bash scripts/provision-browser.sh; fi
bash scripts/setup.sh
.venv/bin/repomind --log-format console sandbox build --offline
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
