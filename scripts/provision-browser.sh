#!/usr/bin/env bash
# Install Debian's chromium (and chromium-driver) for the browser tests when missing. Idempotent; needs
# root for the install. The tests drive /usr/bin/chromium through Playwright's executable_path, so no
# browser is ever downloaded by Playwright itself.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "provision: $(chromium --version 2>/dev/null || echo 'chromium') is installed" >&2
