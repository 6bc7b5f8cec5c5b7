#!/usr/bin/env bash
# Install the servers that the back-end tests start for themselves (PostgreSQL for the ledger, Redis for
# the job queue) when they are missing. Idempotent; needs root for the install. Nothing is left running:
# each test starts its own server on a free loopback port.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "provision: redis-server and PostgreSQL are installed" >&2
