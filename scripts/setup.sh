#!/usr/bin/env bash
# Create .venv and install Repomind with its dev extras; skipped when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp=.venv/.repomind-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch 2.13.0 (the CPU build on this machine's disk) is pinned by the embed extra that dev includes.
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "$want" > "$stamp"
