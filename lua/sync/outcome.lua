-- sync/outcome.lua - what the end of one load means: a decision, computed
-- from the load's result and a few facts, and applied by the engine alone.
--
--   local d = outcome.decide(rel, result, facts)
-- facts: {once = bool, attempt = n (this is the n-th failure in a row),
--         retry = {base_ms, cap_ms}, auth_recheck_s, previous = the
--         state's failure record of rel or nil, now_iso, random, rules =
--         sync.repair.rules of the config, kept in a failure record}
-- decision (every field optional):
--   record       "success" | "stat" (same bytes, new identity) | "failure"
--   entry        the state record for "success"
--   failure      the failure record {class, event, error, action, at, stat,
--                next_try_at?} for "failure"
--   pending      true | false: whether work on rel is still owed
--   retry_in_ms  try rel again after this long (back-off)
--   pause_auth   the token was refused: pause all loads (error text)
--   unreachable  `once`: Keboola cannot be reached, start no more loads
--   settle       look at the file again (it changed, or was unstable)
--   count        "loaded" | "unchanged": for the `once` summary
--   log          {level, event, fields}
--   save         "after_load" | "soon"
-- Pure Lua: tests/lua/test_sync_units.lua drives it with plain tables.
local backoff = require "lib.backoff"
local failure = require "sync.failure"

local M = {}

-- lua-cjson hands JSON integers over as floats: 5001.0 reads badly in a
-- log line and in status.json.
local function int(v)
  if math.type(v) == "float" and math.tointeger(v) then return math.tointeger(v) end
  return v
end

local function success_entry(o, loaded_at)
  return {
    bucket_id = o.bucket_id, table_id = o.table_id,
    table = o.table_id and o.table_id:match("%.([^.]+)$"),
    fingerprint = o.fingerprint, stat = o.stat, header = o.header, columns = o.columns,
    job_id = int(o.job_id), rows = int(o.rows), bytes = o.bytes, loaded_at = loaded_at,
  }
end

local succeeded = {}

function succeeded.ok(rel, o, f)
  return { record = "success", entry = success_entry(o, f.now_iso), pending = false,
    count = "loaded", save = "after_load", settle = o.changed_after or nil,
    log = { level = "info", event = "table_loaded", fields = { table = o.table_id, file = rel,
      rows = int(o.rows), bytes = o.bytes, uploaded_bytes = o.uploaded_bytes, job = int(o.job_id),
      file_id = int(o.file_id) } } }
end

function succeeded.unchanged(rel, o)
  return { record = "stat", pending = false, count = "unchanged", save = "soon",
    settle = o.changed_after or nil,
    log = { level = "debug", event = "load_skipped_unchanged",
      fields = { table = o.table_id, file = rel, fingerprint = o.fingerprint } } }
end

function succeeded.adopted(rel, o)
  return { record = "success", entry = success_entry(o, nil), pending = false,
    count = "unchanged", save = "soon", settle = o.changed_after or nil,
    log = { level = "info", event = "table_adopted", fields = { table = o.table_id, file = rel,
      rows = int(o.rows), reason = "no state for the file; the table was imported after its last change" } } }
end

function succeeded.skipped(rel, o)
  return { pending = false, save = "soon",
    log = { level = "debug", event = "load_skipped", fields = { file = rel, reason = o.reason } } }
end

function succeeded.gone(rel)
  return { pending = false, save = "soon",
    log = { level = "info", event = "file_gone",
      fields = { file = rel, action = "none: it vanished before it could be read" } } }
end

function succeeded.unstable(rel)
  return { settle = true, log = { level = "debug", event = "file_unstable",
    fields = { file = rel, reason = "changed while being read; settling again" } } }
end

function succeeded.dry_run(rel, o)
  return { pending = false, count = "would_load", dry = o }
end

function succeeded.cancelled()
  return { pending = true }
end

-- A failed load: record it with its class; retry what is worth retrying.
local function failed(rel, o, f)
  local class = o.class or "file"
  local rec = { class = class, event = o.event, error = o.error,
                action = o.action or failure.ACTION[class], at = f.now_iso, stat = o.stat,
                rules = f.rules ~= "" and f.rules or nil }
  local d = { record = "failure", failure = rec, pending = false, save = "soon" }
  local fields = { table = o.table, file = rel, class = class, error = o.error,
    missing = o.missing, extra = o.extra, reordered = o.reordered, case_only = o.case_only, hook = o.hook, code = o.code,
    action = rec.action }
  if o.pause_auth then
    d.pause_auth = o.error
    if not f.once then d.record, d.failure, d.pending, d.retry_in_ms = nil, nil, true, nil end
    return d
  end
  local retry = failure.retried_without_change(class) and class ~= "config" and not f.once
  if retry then
    d.retry_in_ms = class == "auth" and f.auth_recheck_s * 1000
      or backoff.delay_ms(f.attempt, f.retry, f.random)
    rec.next_try_in_ms = d.retry_in_ms
    fields.attempt, fields.retry_in_ms, fields.event = f.attempt, d.retry_in_ms, o.event
    d.pending = true
  end
  if f.once and class == "remote" then d.unreachable = true end
  -- ERROR once per file version and event; the retries that follow are
  -- WARN load_retry lines, so a long outage does not flood the log.
  local same = f.previous and f.previous.stat == o.stat and f.previous.event == o.event
  if retry and (same or class == "remote") then
    d.log = { level = "warn", event = "load_retry", fields = fields }
  elseif not same then
    d.log = { level = "error", event = o.event or "load_failed", fields = fields }
  end
  return d
end

function M.decide(rel, o, facts)
  if o.status == "failed" then return failed(rel, o, facts) end
  local fn = succeeded[o.status]
  if not fn then error("unknown load status " .. tostring(o.status)) end
  return fn(rel, o, facts)
end

return M
