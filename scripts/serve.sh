#!/usr/bin/env bash
# The main job on its embedded defaults: set everything up on a fresh machine, then `repomind serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True

if [ "$(id -u)" = 0 ]; then bash scripts/provision-docker.sh; fi
bash scripts/setup.sh
.venv/bin/repomind --log-format console sandbox build --offline
exec .venv/bin/repomind serve "$@"
