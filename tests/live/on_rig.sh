#!/usr/bin/env bash
# Runs tests/live/test_live.py against the local rig, so the script behind
# `make test-live` is itself tested on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
rig=$(mktemp -d /tmp/kbsyncd-live-rig-XXXXXX)
trap 'tests/rig/down "$rig" >/dev/null 2>&1 || true; rm -rf "$rig"' EXIT
eval "$(KBSYNCD_RIG_DIR=$rig tests/rig/up gcp)"
python3 tests/live/test_live.py
