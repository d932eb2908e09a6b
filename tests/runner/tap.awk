# tap.awk - judges one suite's output as TAP, for tests/run.
#
# Reads the suite's log (stdout and stderr together) and prints
#   counts PASSED FAILED SKIPPED
#   skip DESCRIPTION # REASON        (one per skipped check)
#   problem TEXT                     (one per reason the suite is broken)
#
# Rules (docs/architecture.md, "Testing"):
# - A test line is "ok N ..." or "not ok N ...".  Its number must be the
#   next in sequence from 1: a child process that prints its own "ok" line
#   into the suite's output breaks the sequence, so it is a problem rather
#   than a counted pass.  Lines that do not start with "ok" / "not ok" /
#   "1.." are ignored (diagnostics, logs).
# - "ok N - what # SKIP reason" is a skip, not a pass, and needs a reason.
# - Exactly one plan "1..N", first or last, with N equal to the number of
#   test lines.  "1..0 # SKIP reason" skips the whole suite; a plan of
#   1..0 without it, or no test line at all, is a suite that checked
#   nothing.
function problem(text) { problems[++nproblems] = text }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
# Position of a "# SKIP" directive in s (0 when there is none).
function skip_at(s,    low) {
    low = tolower(s)
    if (match(low, /#[ \t]*skip([ \t]|$)/)) return RSTART
    return 0
}
BEGIN { expect = 1; tests = 0; pass = 0; fail = 0; skips = 0; plans = 0 }
/^(not )?ok([ \t]|$)/ {
    line = $0
    notok = line ~ /^not ok/
    rest = line
    sub(/^(not )?ok[ \t]*/, "", rest)
    if (!match(rest, /^[0-9]+/)) {
        problem("unnumbered test line (a child's output?): " substr(line, 1, 200))
        next
    }
    n = substr(rest, 1, RLENGTH) + 0
    if (n != expect) {
        problem("test line out of sequence, expected " expect " (a child's output?): " substr(line, 1, 200))
        next
    }
    if (plans && !plan_first) problem("test line after the closing plan: " substr(line, 1, 200))
    expect++
    tests++
    at = skip_at(rest)
    if (notok) { fail++; next }
    if (!at) { pass++; next }
    reason = substr(rest, at)
    sub(/^#[ \t]*[A-Za-z]+/, "", reason)
    reason = trim(reason)
    desc = trim(substr(rest, 1, at - 1))
    sub(/^[0-9]+[ \t]*-?[ \t]*/, "", desc)
    if (reason == "") { problem("skip without a reason: " substr(line, 1, 200)); next }
    skips++
    print "skip " desc " # " reason
    next
}
/^1\.\.[0-9]+([ \t]|$)/ {
    plans++
    if (plans > 1) { problem("a second plan: " $0); next }
    plan_first = tests == 0
    planned = substr($0, 4) + 0
    if (planned == 0) {
        at = skip_at($0)
        if (at) {
            skip_all = substr($0, at)
            sub(/^#[ \t]*[A-Za-z]+/, "", skip_all)
            skip_all = trim(skip_all)
            if (skip_all == "") problem("1..0 # SKIP without a reason")
        }
    }
    next
}
END {
    if (!plans)
        problem("no plan (1..N): the suite stopped early or never printed it")
    else if (planned != tests)
        problem("plan 1.." planned " but " tests " test lines")
    if (tests == 0 && plans == 1 && planned == 0 && skip_all != "") {
        skips++
        print "skip (the whole suite) # " skip_all
    } else if (tests == 0) {
        problem("no checks ran, and no skip of the whole suite (1..0 # SKIP reason) was declared")
    }
    for (i = 1; i <= nproblems; i++) print "problem " problems[i]
    print "counts " pass " " fail " " skips
}
