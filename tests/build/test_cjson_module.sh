#!/usr/bin/env bash
# tests/build/test_cjson_module.sh BUILD_DIR - the cjson-module build
# (CJSON=module, what LuaRocks and Homebrew give): lua-cjson is not linked
# in but loaded at run time from Lua's cpath, and that is the only native
# module a script can load.  Run by scripts/test-cjson-module (make
# test-cjson-module) against a build that could not see lua5.4-cjson.pc.
# CJSON_SO: the cjson.so to load (default: Debian's, from the Lua .pc's
# INSTALL_CMOD).  Prints TAP.
set -u
cd "$(dirname "$0")/../.." || exit 2
b=${1:?usage: tests/build/test_cjson_module.sh BUILD_DIR}
bin=$b/kbsyncd
so=${CJSON_SO:-$(pkg-config --variable=INSTALL_CMOD lua5.4 2>/dev/null)/cjson.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { # condition-status, description
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

# 1. The build did not link lua-cjson: luaopen_cjson is neither defined
# (static) nor imported (shared library), and nm did read the binary.
syms=$(nm "$bin" 2>/dev/null)
[ -n "$syms" ] && ! grep -q 'luaopen_cjson' <<<"$syms" && grep -q 'luaopen_host_http' <<<"$syms"
ok $? "the binary neither defines nor imports luaopen_cjson (lua-cjson is not linked in)"

# 2. inspect --json on a fixture with cjson.so found through LUA_CPATH_5_4
# (LuaRocks --local's way), in a folder holding only that module.
mkdir -p "$tmp/rocks"
ln -s "$so" "$tmp/rocks/cjson.so"
out=$(LUA_CPATH_5_4="$tmp/rocks/?.so" "$bin" inspect --json tests/fixtures/csv/crlf.csv 2>"$tmp/err")
rc=$?
[ $rc -eq 0 ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["dialect"]["delimiter"] == ","' "$out" 2>>"$tmp/err"
ok $? "inspect --json loads cjson.so from LUA_CPATH_5_4 and prints JSON (rc $rc)"
[ -s "$tmp/err" ] && sed 's/^/# /' "$tmp/err"

# 3. Both names resolve to that file; another native module on the same
# path is refused, so the exception is exactly cjson.
cat >"$tmp/probe.lua" <<'LUA'
local cjson = require "cjson"
local safe = require "cjson.safe"
assert(cjson.decode('{"a":[1,2]}').a[2] == 2, "cjson decodes")
assert(safe.decode("{") == nil, "cjson.safe returns nil on bad JSON")
local ok, err = pcall(require, "notcjson")
print(ok and "loaded notcjson" or err)
LUA
ln -s "$so" "$tmp/rocks/notcjson.so"
probe=$(LUA_CPATH_5_4="$tmp/rocks/?.so" "$bin" --exec "$tmp/probe.lua" 2>&1)
rc=$?
ok $rc "cjson and cjson.safe load and work in the module build"
grep -q "no native module 'notcjson' (only cjson" <<<"$probe"
ok $? "another .so on the same cpath is refused (no native modules but cjson)"
[ $rc -eq 0 ] || sed 's/^/# /' <<<"$probe"

# 4. Without cjson.so the error names the fix.
mkdir -p "$tmp/empty"
err=$(LUA_CPATH_5_4="$tmp/empty/?.so" "$bin" inspect --json tests/fixtures/csv/crlf.csv 2>&1)
rc=$?
[ $rc -ne 0 ] && grep -qF 'luarocks --lua-version 5.4 install lua-cjson' <<<"$err"
ok $? "a missing cjson.so fails (rc $rc) naming luarocks install lua-cjson"
sed 's/^/# /' <<<"$err" | head -3

echo "1..$n"
