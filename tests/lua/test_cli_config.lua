-- test_cli_config.lua - the CLI and config loading, as a user meets them:
-- every kind of bad input gives one clear line and its documented exit
-- code, with no traceback unless --log-level debug.
local t = require "tap"
local rig = require "helpers.rig"
local fs = require "host.fs"

local bin = os.getenv("KBSYNCD_BIN") or (rig.root .. "/build/kbsyncd")
local dir = os.tmpname(); os.remove(dir); assert(fs.mkdir_p(dir))

local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close()
  return dir .. "/" .. name
end

-- Runs the binary in `dir` with a clean Keboola environment plus `envs`.
local function run(args, envs)
  local cmd = string.format("cd %s && env -u KBC_STORAGE_API_HOST -u KBC_STORAGE_API_TOKEN " ..
    "-u KBSYNCD_S3_ENDPOINT -u KBSYNCD_GCS_ENDPOINT -u KBSYNCD_CONFIG %s %s %s 2>&1; echo \"rc=$?\"",
    dir, envs or "", bin, args)
  local p = assert(io.popen(cmd)); local out = p:read("a"); p:close()
  local rc = tonumber(out:match("rc=(%d+)\n?$"))
  return rc, (out:gsub("rc=%d+\n?$", ""))
end

local function lines(s) local n = 0; for _ in s:gmatch("[^\n]+") do n = n + 1 end; return n end

-- Usage errors.
local rc, out = run("--bogus")
t.is(rc, 2, "unknown option -> exit 2"); t.like(out, "unknown option %-%-bogus", "names the option")
rc, out = run("inspect")
t.is(rc, 2, "inspect without FILE -> exit 2")
rc, out = run("--help")
t.ok(rc == 0 and out:match("Exit codes"), "--help lists the exit codes")
rc, out = run("--version")
t.ok(rc == 0 and out:match("^kbsyncd %d+%.%d+%.%d+"), "--version")

-- Config errors: one line, exit 2, file and line named.
write("syntax.lua", "return {\n  watch_dir = 'x'\n  settle_ms = 5\n}\n")
rc, out = run("check -c syntax.lua")
t.is(rc, 2, "syntax error -> exit 2")
t.like(out, "syntax%.lua:3:", "syntax error names file and line")
t.is(lines(out), 1, "syntax error is one line")

write("runtime.lua", "local x = nil\nreturn { watch_dir = x.y }\n")
rc, out = run("check -c runtime.lua")
t.ok(rc == 2 and out:match("runtime%.lua:2:") and lines(out) == 1, "runtime error -> one line with file:line, exit 2")
t.unlike(out, "stack traceback", "no traceback by default")
rc, out = run("check -c runtime.lua --log-level debug")
t.like(out, "stack traceback", "--log-level debug adds the traceback")

write("unknown.lua", "return {\n  watch_dir = '.',\n  setle_ms = 10,\n}\n")
rc, out = run("check -c unknown.lua")
t.is(rc, 2, "unknown key -> exit 2")
t.like(out, "unknown%.lua:3: unknown key 'setle_ms' %(allowed: .*settle_ms", "names file, line, key and the allowed keys")

write("nested.lua", "return { log = { levle = 'debug' } }\n")
rc, out = run("check -c nested.lua")
t.ok(rc == 2 and out:match("unknown key 'log%.levle'") and out:match("allowed: .*level"), "unknown nested key")

write("type.lua", "return {\n  settle_ms = 'soon',\n}\n")
rc, out = run("check -c type.lua")
t.ok(rc == 2 and out:match("type%.lua:2: 'settle_ms' must be an integer, got string"), "wrong type -> exit 2: " .. out)

write("enum.lua", "return { watcher = 'fsevents' }\n")
rc, out = run("check -c enum.lua")
t.ok(rc == 2 and out:match("'watcher' must be one of auto, inotify, poll"), "wrong enum value")

rc, out = run("check -c missing.lua")
t.ok(rc == 2 and out:match("missing%.lua: config file not found"), "missing config file")

-- .env problems.
write("ok.lua", "return { watch_dir = '.' }\n")
rc, out = run("check -c ok.lua")
t.ok(rc == 2 and out:match("KBC_STORAGE_API_HOST is not set"), "no .env -> says which variable is missing")
rc, out = run("check -c ok.lua", "KBC_STORAGE_API_HOST=connection.keboola.com KBC_STORAGE_API_TOKEN=")
t.ok(rc == 2 and out:match("KBC_STORAGE_API_TOKEN is empty"), "empty token -> exit 2")
write(".env", "KBC_STORAGE_API_HOST=ftp://example\nKBC_STORAGE_API_TOKEN=x\n")
rc, out = run("check -c ok.lua")
t.ok(rc == 2 and out:match("not usable: scheme must be https"), "non-http scheme refused")
write(".env", "KBC_STORAGE_API_HOST=connection.keboola.com\nthis line is broken\n")
rc, out = run("check -c ok.lua")
t.ok(rc == 2 and out:match("%.env:2: expected KEY=value"), "broken .env names its line")
os.remove(dir .. "/.env")

-- Against the rig: a good token, a bad token, an unreachable host, a
-- host without scheme, a world-readable .env.
local env = rig.up("gcp")
local good = "KBC_STORAGE_API_HOST=" .. env.KBC_STORAGE_API_HOST .. " KBC_STORAGE_API_TOKEN=" .. env.KBC_STORAGE_API_TOKEN
rc, out = run("check -c ok.lua", good)
t.ok(rc == 0 and out:match("project%s+kbsyncd%-emulator %(id 123%)") and out:match("file storage%s+gcp"),
  "check prints project, id and provider")
t.ok(out:match("can create buckets"), "check says whether the token can manage buckets")
t.unlike(out, env.KBC_STORAGE_API_TOKEN, "check never prints the token")
rc, out = run("check -c ok.lua", "KBC_STORAGE_API_HOST=" .. env.KBC_STORAGE_API_HOST .. " KBC_STORAGE_API_TOKEN=123-999-wrongtoken")
t.ok(rc == 3 and out:match("rejected") and lines(out) == 1, "401 -> exit 3, one line")
t.unlike(out, "wrongtoken", "a rejected token is not echoed")
rc, out = run("check -c ok.lua", "KBC_STORAGE_API_HOST=http://127.0.0.1:1 KBC_STORAGE_API_TOKEN=x-y-z")
t.ok(rc == 4 and out:match("cannot verify the token"), "unreachable host -> exit 4")
local hostport = env.KBC_STORAGE_API_HOST:gsub("^http://", "")
rc, out = run("check -c ok.lua", "KBC_STORAGE_API_HOST=" .. hostport .. " KBC_STORAGE_API_TOKEN=x-y-z")
t.ok(rc == 4 and out:match("https://" .. hostport:gsub("%p", "%%%0")), "host without scheme gets https://")
write(".env", "KBC_STORAGE_API_HOST=" .. env.KBC_STORAGE_API_HOST .. "\nKBC_STORAGE_API_TOKEN=" .. env.KBC_STORAGE_API_TOKEN .. "\n")
os.execute("chmod 644 " .. dir .. "/.env")
rc, out = run("check -c ok.lua")
t.ok(rc == 0 and out:match("env_file_readable") and out:match("chmod 600"), ".env from the config folder; readable by others warns")
os.execute("chmod 600 " .. dir .. "/.env")
rc, out = run("check -c ok.lua")
t.ok(rc == 0 and not out:match("env_file_readable"), "a private .env does not warn")
rc, out = run("check -c ok.lua", "KBC_STORAGE_API_TOKEN=123-999-fromenv")
t.is(rc, 3, "a real environment variable wins over .env")
rig.down(env)

os.execute("rm -rf " .. dir)
t.done()
