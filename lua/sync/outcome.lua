-- sync/outcome.lua - what the end of one load changes: state, log, retries.
--
-- Failures are classified once, here (DESIGN 2.3 step 6):
--   retryable  back off with jitter and try again, without limit in `run`
--              (3 attempts in `once`, which must end);
--   permanent  ERROR once, then wait until the file changes;
--   policy     a hook raised: like permanent, with the traceback;
--   auth       pause all work and re-verify the token periodically.
local log = require "host.log"

local M = {}

local RETRY_BASE_MS, RETRY_CAP_MS = 1000, 300000
local ONCE_ATTEMPTS = 3

local function backoff_ms(attempt)
  local ceiling = math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ^ math.min(attempt - 1, 20))
  -- "equal jitter": never less than half the ceiling, so a storm of
  -- failures still spreads out but never retries immediately.
  return math.floor(ceiling / 2 + math.random() * ceiling / 2)
end
M.backoff_ms = backoff_ms

-- lua-cjson hands JSON integers over as floats: 5001.0 reads badly in a
-- log line and in status.json.
local function int(v)
  if math.type(v) == "float" and math.tointeger(v) then return math.tointeger(v) end
  return v
end

local function record_success(e, rel, o)
  o.rows, o.job_id, o.file_id = int(o.rows), int(o.job_id), int(o.file_id)
  e.state:set_file(rel, {
    bucket_id = o.bucket_id, table_id = o.table_id,
    table = o.table_id and o.table_id:match("%.([^.]+)$"),
    fingerprint = o.fingerprint, stat = o.stat, header = o.header, columns = o.columns,
    job_id = o.job_id, rows = o.rows, bytes = o.bytes,
    loaded_at = o.loaded_at or e:now_iso(),
  })
  e.state:set_pending(rel, nil)
  e.state:set_failure(rel, nil)
  e.attempts[rel] = nil
end

local function record_failure(e, rel, o)
  e.state:set_failure(rel, { kind = o.kind, event = o.event, error = o.error,
    action = o.action, at = e:now_iso(), stat = o.stat })
  e.state:set_pending(rel, nil)
  e.attempts[rel] = nil
end

function M.apply(e, rel, o)
  local s = o.status
  if s == "ok" then
    record_success(e, rel, o)
    e.loaded_now = e.loaded_now + 1
    log.info("table_loaded", { table = o.table_id, file = rel, rows = o.rows, bytes = o.bytes,
      uploaded_bytes = o.uploaded_bytes, job = o.job_id, file_id = o.file_id })
    e:save_after_load()
  elseif s == "unchanged" then
    local entry = e.state:file(rel)
    if entry and entry.stat ~= o.stat then entry.stat = o.stat; e.state:set_file(rel, entry) end
    e.state:set_pending(rel, nil)
    e.state:set_failure(rel, nil)
    e.unchanged_now = e.unchanged_now + 1
    log.debug("load_skipped_unchanged", { table = o.table_id, file = rel,
      fingerprint = o.fingerprint })
    e:save_soon()
  elseif s == "adopted" then
    o.loaded_at = nil
    record_success(e, rel, o)
    e.unchanged_now = e.unchanged_now + 1
    log.info("table_adopted", { table = o.table_id, file = rel, rows = o.rows,
      reason = "no state for the file; the table was imported after its last change" })
    e:save_soon()
  elseif s == "skipped" then
    e.state:set_pending(rel, nil)
    log.debug("load_skipped", { file = rel, reason = o.reason })
    e:save_soon()
  elseif s == "gone" then
    e.state:set_pending(rel, nil)
    log.info("file_gone", { file = rel, action = "none: it vanished before it could be read" })
    e:save_soon()
  elseif s == "unstable" then
    local st = e.folders:stat(rel)
    log.debug("file_unstable", { file = rel, reason = "changed while being read; settling again" })
    if st then e.settle:touch(rel, st) else e.state:set_pending(rel, nil) end
  elseif s == "dry_run" then
    e.state:set_pending(rel, nil)
  elseif s == "failed" then
    M.failed(e, rel, o)
  end
end

function M.failed(e, rel, o)
  local kind = o.kind
  if kind == "auth" then
    e:pause_for_auth(o.error)
    e.sched:submit(rel, true)
    return
  end
  if kind == "retryable" then
    local n = (e.attempts[rel] or 0) + 1
    e.attempts[rel] = n
    if not (e.once and n >= ONCE_ATTEMPTS) then
      local ms = backoff_ms(n)
      log.warn("load_retry", { table = o.table, file = rel, attempt = n, retry_in_ms = ms,
        error = o.error, event = o.event,
        action = "none if temporary: retrying with back-off; check the network or Keboola status if it persists" })
      e.sched:later(rel, ms)
      return
    end
  end
  local same = e.state:failure(rel)
  record_failure(e, rel, o)
  e.failed_now[rel] = true
  -- ERROR once per file version: a permanent failure repeats only when
  -- the file changed and failed again.
  if not (same and same.stat == o.stat and same.event == o.event) then
    log.error(o.event or "load_failed", { table = o.table, file = rel, kind = kind,
      error = o.error, missing = o.missing, extra = o.extra, reordered = o.reordered,
      hook = o.hook, code = o.code, action = o.action or "see error" })
  end
  e:save_soon()
end

return M
