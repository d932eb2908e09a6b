-- bench/upload.lua - uploads one spool file through the Keboola client to
-- the rig described by the environment (tests/rig/up), with the client's
-- default thresholds, and prints one line of figures. Run by bench/upload.sh
-- and bench/wan.py:
--   build/kbsyncd --exec bench/upload.lua SPOOL_FILE
-- KBSYNCD_BENCH_PARALLEL, when set, is upload.parallel (default: the client's).
local kbc = require "keboola"
local env = require "host.env"
local timer = require "host.timer"
local task = require "host.task"

local path = assert(..., "usage: kbsyncd --exec bench/upload.lua SPOOL_FILE")
local parallel = tonumber(env.get("KBSYNCD_BENCH_PARALLEL") or "")
local c = kbc.new({
    host = assert(env.get("KBC_STORAGE_API_HOST"), "no rig: eval \"$(tests/rig/up aws)\" first"),
    token = env.get("KBC_STORAGE_API_TOKEN"),
    s3_endpoint = env.get("KBSYNCD_S3_ENDPOINT"), gcs_endpoint = env.get("KBSYNCD_GCS_ENDPOINT"),
    retry = { max_attempts = 5 },
    upload = parallel and { parallel = parallel } or nil,
})
local started = timer.now()
local up, err = c:upload_file(path, { name = "bench.csv" })
if not up then
    io.stderr:write("upload failed: ", tostring(err), "\n")
    return 1
end
local ms = math.max(1, timer.now() - started)
print(string.format("provider=%s parallel=%d bytes=%d parts=%d ms=%d MB/s=%.1f lua_memory_kb=%d",
    up.provider, c.upload_cfg.parallel, up.size_bytes, up.parts, ms, up.size_bytes / 1e6 / (ms / 1000),
    task.runtime().memory // 1024))
return 0
