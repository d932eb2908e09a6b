#!/usr/bin/env bash
# bench/upload.sh - peak memory of the Keboola client while it uploads a
# large spool file through the rig, per provider.
#
#   bench/upload.sh [aws|azure|gcp ...]     (default: all three)
#   SIZE_MB=1024 (default) sets the file size.
#
# Each provider: start a rig, upload the file with the client's default
# thresholds under /usr/bin/time -v, print the client's own figures and the
# peak RSS ("Maximum resident set size"), stop the rig.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
providers=("$@")
[ ${#providers[@]} -gt 0 ] || providers=(aws azure gcp)
bin=${KBSYNCD_BIN:-build/kbsyncd}
[ -x "$bin" ] || make -s build/kbsyncd

work=$(mktemp -d /tmp/kbsyncd-bench-upload.XXXXXX)
trap 'rm -rf "$work"' EXIT
spool=$work/spool.csv
# Random bytes: nothing along the way can profit from compressible data.
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$spool"

for p in "${providers[@]}"; do
  eval "$(tests/rig/up "$p")"
  if /usr/bin/time -v -o "$work/time.$p" "$bin" --exec bench/upload.lua "$spool" > "$work/out.$p"; then
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$p")
    printf '%-6s %s peak_rss_kb=%s\n' "$p" "$(cat "$work/out.$p")" "$rss"
  else
    echo "$p: upload failed" >&2
    cat "$work/out.$p" >&2
  fi
  tests/rig/down "$KBSYNCD_RIG_DIR" >/dev/null 2>&1 || true
done
