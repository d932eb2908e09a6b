#!/usr/bin/env bash
# Runs tests/live/test_live.py against the local rig, so the script behind
# `make test-live` is itself tested on every `make test`.  A rig that fails
# to start fails this suite, and credentials already in the environment
# (a real project's) are dropped first: this run only ever talks to the
# emulator it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
unset KBC_STORAGE_API_HOST KBC_STORAGE_API_TOKEN KBSYNCD_EMULATOR_URL
rig=$(mktemp -d /tmp/kbsyncd-live-rig-XXXXXX)
trap 'tests/rig/down "$rig" >/dev/null 2>&1 || true; rm -rf "$rig"' EXIT
# Not eval "$(...)": a failing command substitution inside eval's argument
# does not stop the script.
if ! exports=$(KBSYNCD_RIG_DIR=$rig tests/rig/up gcp); then
  echo "not ok 1 - the gcp rig starts (tests/rig/up gcp failed; its messages are above)"
  echo "1..1"
  exit 1
fi
eval "$exports"
if [ -z "${KBSYNCD_EMULATOR_URL:-}" ] || [ "${KBC_STORAGE_API_HOST:-}" != "$KBSYNCD_EMULATOR_URL" ]; then
  echo "not ok 1 - the rig exported the emulator's URL as KBC_STORAGE_API_HOST"
  echo "1..1"
  exit 1
fi
KBSYNCD_LIVE_EMULATOR=1 python3 tests/live/test_live.py
