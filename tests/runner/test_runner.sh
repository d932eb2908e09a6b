#!/usr/bin/env bash
# test_runner.sh - tests/run itself: in a temporary tree it plants suites
# that must not pass (empty; a plan it does not meet; one that hangs; the
# real tests/live/on_rig.sh with a rig that fails to start; a child's stray
# "ok" line; a skip without a reason) next to a good suite with one skip and
# a suite that skips as a whole, runs tests/run on that tree
# (KBSYNCD_TEST_ROOT) and checks each suite's verdict and the closing line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
runner=$(cd "$here/.." && pwd)/run
tmp=$(mktemp -d /tmp/kbsyncd-runner-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { # condition-status, description, [diagnostic]
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    failed=$((failed + 1))
    echo "not ok $n - $2"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | tail -n 30 | sed 's/^/#   /'
  fi
}

tree=$tmp/tree
mkdir -p "$tree/tests/e2e" "$tree/tests/live" "$tree/tests/rig"
suite() { cat >"$tree/tests/e2e/$1"; }
suite test_empty.sh <<'EOF'
exit 0
EOF
suite test_short_plan.sh <<'EOF'
echo "ok 1 - the only check that ran"
echo "1..3"
EOF
suite test_hangs.sh <<'EOF'
echo "ok 1 - started"
sleep 300 &
echo $! >"$HANG_PIDFILE"
wait
EOF
suite test_stray.sh <<'EOF'
echo "ok 1 - mine"
bash -c 'echo "ok 2 - printed by a child, not by this suite"'
echo "ok 2 - mine"
echo "1..2"
EOF
suite test_unreasoned_skip.sh <<'EOF'
echo "ok 1 - something # SKIP"
echo "1..1"
EOF
suite test_good.sh <<'EOF'
echo "ok 1 - a check"
echo "# a diagnostic line"
echo "ok 2 - the avx512 path # SKIP CPU lacks avx512"
echo "1..2"
EOF
suite test_skip_all.sh <<'EOF'
echo "1..0 # SKIP nothing to check on this system"
EOF
# The real live-suite script, with a rig that fails to start and a
# test_live.py that would pass if it were ever reached.
cp "$here/../live/on_rig.sh" "$tree/tests/live/on_rig.sh"
printf '#!/bin/sh\necho "rig: the emulator did not start" >&2\nexit 1\n' >"$tree/tests/rig/up"
printf '#!/bin/sh\nexit 0\n' >"$tree/tests/rig/down"
chmod +x "$tree/tests/rig/up" "$tree/tests/rig/down"
printf 'print("ok 1 - reached without a rig")\nprint("1..1")\n' >"$tree/tests/live/test_live.py"

run() { # extra env assignments...; sets out and rc
  out=$(env -u TESTS -u KBSYNCD_NO_SKIPS -u KBSYNCD_NO_ASAN -u KBSYNCD_SUITE_TIMEOUT_S \
    KBSYNCD_TEST_ROOT="$tree" KBSYNCD_TEST_LOGS="$tmp/logs" HANG_PIDFILE="$tmp/hang.pid" \
    "$@" bash "$runner" 2>&1)
  rc=$?
}
# The counts tests/run printed for one suite: "P F S".
counts() {
  local line p f s
  while IFS= read -r line; do
    [[ "$line" == "$1 "* ]] || continue
    read -r p _ f _ s _ <<<"${line#"$1"}"
    echo "$p $f $s"
  done <<<"$out"
}
verdict() { # suite name, expected "P F S", description
  local got
  got=$(counts "$1")
  [ "$got" = "$2" ]
  ok $? "$3 (got '$got', want '$2')" "$out"
}

start=$SECONDS
run KBSYNCD_SUITE_TIMEOUT_S=3 KBSYNCD_NO_ASAN=1
took=$((SECONDS - start))
[ "$rc" -ne 0 ]; ok $? "the run fails (exit $rc)"
verdict "plain e2e/test_empty.sh" "0 2 0" "an empty suite fails: no plan, no checks"
verdict "plain e2e/test_short_plan.sh" "1 1 0" "a suite that exits 0 short of its plan fails"
verdict "plain e2e/test_hangs.sh" "1 2 0" "a suite that hangs fails: timed out, no plan"
printf '%s\n' "$out" | grep -q "timed out after 3s.*process group was killed"
ok $? "the timeout is reported as such" "$out"
[ "$took" -lt 30 ]; ok $? "the hanging suite was stopped near its limit (whole run ${took}s)"
# Gone, or a zombie waiting to be reaped: dead either way.
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
pid=$(cat "$tmp/hang.pid" 2>/dev/null)
deadline=$((SECONDS + 10))
while [ -n "$pid" ] && ! gone "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
[ -n "$pid" ] && gone "$pid"
ok $? "the hanging suite's child was killed with it (pid ${pid:-none})"
verdict "live/test_live.py (on the rig)" "0 1 0" "the live suite fails when its rig fails to start"
verdict "plain e2e/test_stray.sh" "2 1 0" "a child's stray ok line breaks the sequence: the suite fails"
printf '%s\n' "$out" | grep -q "out of sequence"
ok $? "the stray line is reported as out of sequence" "$out"
verdict "plain e2e/test_unreasoned_skip.sh" "0 1 0" "a skip without a reason fails"
verdict "plain e2e/test_good.sh" "1 0 1" "the good suite passes with one skip"
verdict "plain e2e/test_skip_all.sh" "0 0 1" "a suite skipped as a whole is one skip"
printf '%s\n' "$out" | grep -q "^    plain e2e/test_good.sh: the avx512 path # CPU lacks avx512$"
ok $? "skips are listed at the end with their reasons" "$out"
printf '%s\n' "$out" | grep -q "^asan stage .*skipped: not run: KBSYNCD_NO_ASAN=1"
ok $? "the ASan stage says it was not run and why" "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
[ "$last" = "5 passed, 8 failed, 3 skipped" ]
ok $? "the closing line counts passes, failures and skips ($last)" "$out"

run TESTS=test_good.sh KBSYNCD_NO_SKIPS=1 KBSYNCD_NO_ASAN=1
verdict "plain e2e/test_good.sh" "1 0 1" "KBSYNCD_NO_SKIPS=1 accepts a 'CPU lacks' skip"
last=$(printf '%s\n' "$out" | tail -n 1)
[ "$last" = "1 passed, 1 failed, 1 skipped" ] && [ "$rc" -ne 0 ]
ok $? "KBSYNCD_NO_SKIPS=1 fails the skipped ASan stage ($last)" "$out"

run TESTS=test_skip_all.sh KBSYNCD_NO_SKIPS=1 KBSYNCD_NO_ASAN=1
verdict "plain e2e/test_skip_all.sh" "0 1 0" "KBSYNCD_NO_SKIPS=1 fails any other skip"

run TESTS=test_good.sh
last=$(printf '%s\n' "$out" | tail -n 1)
printf '%s\n' "$out" | grep -q "^asan stage .*FAILED: not run: build-asan/kbsyncd is missing"
ok $? "a missing ASan build is a failure, said as such" "$out"
[ "$last" = "1 passed, 1 failed, 1 skipped" ] && [ "$rc" -ne 0 ]
ok $? "and it is counted ($last)" "$out"

echo "1..$n"
[ "$failed" -eq 0 ] && [ "$n" -gt 0 ]
