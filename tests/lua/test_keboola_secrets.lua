-- test_keboola_secrets.lua - the Storage token never shows up in anything
-- the client logs (at any level, trace included) or returns (values, error
-- objects, tostring of the client). The host's own redaction is left
-- unused on purpose: the client must not depend on it.
-- Runs against the gcp rig with faults on, so error paths are exercised.
local t = require "tap"
local kbc = require "keboola"
local rig = require "helpers.keboola_rig"
local hostlog = require "host.log"

local dir = rig.tmpdir()
local r = rig.up("gcp")
local logfile = dir .. "/trace.log"
hostlog.configure({ level = "trace", file = logfile, stderr = false })

-- Everything seen, as text.
local seen = {}
local function remember(...)
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        seen[#seen + 1] = type(v) == "table" and (tostring(v) .. " " .. t.show(v)) or tostring(v)
    end
    return ...
end

-- A log that records every line (all levels) and passes it on.
local recording = {}
for _, level in ipairs({ "error", "warn", "info", "debug", "trace" }) do
    recording[level] = function(event, fields)
        remember(level .. " " .. event, fields or {})
        hostlog[level](event, fields)
    end
end
recording.enabled = function() return true end

local ok, err = pcall(function()
    local token = r.vars.KBC_STORAGE_API_TOKEN
    local c = kbc.new(r:client_config({ retry = { base_ms = 10, cap_ms = 50, max_attempts = 30 },
        upload = { gcs_single_max = 256 * 1024, gcs_chunk_size = 256 * 1024 } }),
        { log = recording })
    remember(c)
    r:faults({ rate = 0.3, seed = 3, retryAfter = 0, slowMs = 50 })
    remember(c:verify_token())
    local bucket = remember(c:ensure_bucket("secrets"))
    local small = dir .. "/s.csv"
    rig.write_csv(small, { "id", "v" }, { { "1", "a" } })
    local big = dir .. "/b.csv"
    rig.write_big_csv(big, 700 * 1024)
    local up = remember(c:upload_file(small))
    remember(c:upload_file(big))
    local tbl = remember(c:create_table(bucket.id, "s", up.id))
    remember(c:load_table(tbl.id, up.id))
    remember(c:list_tables())
    remember(c:get_table(bucket.id .. ".missing"))
    remember(c:webalize({ "a b", "c-d" }))
    -- error paths: header mismatch, refused token, 403
    rig.write_csv(small, { "x" }, { { "1" } })
    local bad = c:upload_file(small, { name = "s.csv" })
    remember(c:load_table(tbl.id, bad and bad.id))
    r:faults()
    local wrong = kbc.new(r:client_config({ token = token .. "x" }), { log = recording })
    remember(wrong, wrong:verify_token())
    remember(wrong:upload_file(small))
    local limited = kbc.new(r:client_config({ token = r.vars.KBSYNCD_TOKEN_NO_MANAGE }), { log = recording })
    remember(limited:create_bucket("nope"))

    local everything = table.concat(seen, "\n")
    t.ok(#seen > 20, "collected " .. #seen .. " values and log lines")
    t.ok(everything:find("http_request", 1, true), "debug request lines were recorded")
    t.ok(not everything:find(token, 1, true), "the token is in no log line or returned value")
    t.ok(not everything:find("123-457-nomanagetoken", 1, true), "nor the other token")
    t.ok(not everything:find(token .. "x", 1, true), "nor a wrong token")
    local f = io.open(logfile, "rb")
    local text = f and f:read("a") or ""
    if f then f:close() end
    t.ok(#text > 0 and text:find("http_request", 1, true), "the trace-level log file was written")
    t.ok(not text:find(token, 1, true), "the token is not in the trace-level log file")
    -- Upload credentials too: the emulator's GCS tokens start with "ya29".
    t.ok(not everything:find("ya29", 1, true) and not text:find("ya29", 1, true),
        "no GCS access token in logs or values")
end)
r:down()
rig.rmdir(dir)
t.ok(ok, "no test raised" .. (ok and "" or (": " .. tostring(err))))
t.done()
