#!/usr/bin/env bash
# Make sure a Docker daemon answers: install docker.io and debootstrap when missing, start dockerd when
# it is not running, and wait until `docker info` answers. Idempotent; needs root for the install/start.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  echo "provision: docker daemon is running" >&2
else
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    echo "provision: installing docker.io and debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  echo "provision: starting dockerd" >&2
  mkdir -p /var/log
  setsid dockerd >/var/log/repomind-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 90); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "provision: dockerd did not come up; its log:" >&2
    tail -n 50 /var/log/repomind-dockerd.log >&2 || true
    exit 1
  fi
  echo "provision: docker daemon is running" >&2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
