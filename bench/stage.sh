#!/usr/bin/env bash
# bench/stage.sh [SIZE_MB ...] - staging throughput and peak memory.
#
# For each size (default: 100 and 1000 MB) a realistic CSV is generated
# (bench/stage_gen.py), read once to be in the page cache, then timed with
# /usr/bin/time -v (wall clock and maximum resident set size):
#   analyse   tool_stage SRC                  read + UTF-8 + CRC-32 + tokenize
#   cp        cp SRC COPY                     the machine's plain copy, for scale
#   stage     tool_stage SRC SPOOL --no-gzip  the above + writing the spool
#   gzip -c   gzip -c -LEVEL SRC > OUT
#   stage gz  tool_stage SRC SPOOL.gz --gzip-threshold 1 --gzip-level LEVEL
# Each fast case runs RUNS times (default 3) and the best is kept; the gzip
# cases run GZ_RUNS times (default 1; 0 skips them).  Everything generated is deleted at
# the end.  Env: KBSYNCD_BUILD (default build), LEVEL (default 6), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KBSYNCD_BUILD:-build}
tool=$build/tests/tool_stage
level=${LEVEL:-6}
runs=${RUNS:-3}
gz_runs=${GZ_RUNS:-1}
[ -x "$tool" ] || make "$tool" >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/kbsyncd-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT

# best_of N CMD... -> "seconds max_rss_kb" of the fastest run
best_of() {
  local n=$1; shift
  local best="" line
  for _ in $(seq "$n"); do
    rm -f "$dir"/out*
    /usr/bin/time -v -o "$dir/time" "$@" >/dev/null
    line=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
                         for (i = 1; i <= n; i++) s = s * 60 + t[i]; w = s }
                       /Maximum resident/ { m = $2 } END { print w, m }' "$dir/time")
    if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] < y[1]) }'; then
      best=$line
    fi
  done
  echo "$best"
}

report() { # label bytes "seconds rss"
  awk -v l="$1" -v b="$2" -v r="$3" 'BEGIN { split(r, x, " ");
    printf "%-10s %8.2f s %8.2f GB/s  peak RSS %6.1f MB\n", l, x[1], (x[1] > 0 ? b / x[1] / 1e9 : 0), x[2] / 1024 }'
}

echo "# $(uname -m), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
# the stager picks its UTF-8 and tokenizer code by CPU (docs/staging.md)
simd=none
for f in avx2 ssse3; do
  if grep -m1 '^flags' /proc/cpuinfo | grep -qw "$f"; then simd=$f; break; fi
done
echo "# widest SIMD the stager can use here: $simd"
for mb in ${*:-100 1000}; do
  src=$dir/in.csv
  python3 bench/stage_gen.py "$src" "$mb"
  bytes=$(stat -c %s "$src")
  cat "$src" >/dev/null
  echo "## $mb MB ($bytes bytes), gzip level $level"
  report analyse "$bytes" "$(best_of "$runs" "$tool" "$src")"
  report cp "$bytes" "$(best_of "$runs" cp "$src" "$dir/out.copy")"
  report stage "$bytes" "$(best_of "$runs" "$tool" "$src" "$dir/out.csv" --no-gzip)"
  if [ "$gz_runs" -gt 0 ]; then
    report "gzip -c" "$bytes" "$(best_of "$gz_runs" sh -c "gzip -c -$level '$src' > '$dir/out.gz'")"
    report "stage gz" "$bytes" "$(best_of "$gz_runs" "$tool" "$src" "$dir/out.csv.gz" --gzip-threshold 1 --gzip-level "$level")"
  fi
  rm -f "$src" "$dir"/out*
done
