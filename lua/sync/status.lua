-- sync/status.lua - state_dir/status.json: what the running daemon is
-- doing, for `kbsyncd status` and for people reading the folder.
-- Built from the state and the engine's live counters; it never holds the
-- token or any credential (nothing here ever sees them).
local cjson = require "cjson"
local fs = require "host.fs"
local timer = require "host.timer"

local M = {}

local function sorted_keys(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The document, from the state and (when running) the live view:
-- live = {mode, pid?, backend, started_at, running = {rel=true}, queued, dirty,
--         paused_reason, dry_run}
function M.build(state, live)
  live = live or {}
  local tables = {}
  for _, rel in ipairs(sorted_keys(state:files())) do
    local e = state:file(rel)
    tables[#tables + 1] = {
      file = rel, table_id = e.table_id, bucket_id = e.bucket_id,
      last_load = e.loaded_at and { at = e.loaded_at, rows = e.rows, bytes = e.bytes,
                                    job_id = e.job_id } or nil,
      fingerprint = e.fingerprint,
    }
  end
  local failures = {}
  for _, rel in ipairs(sorted_keys(state:failures())) do
    local f = state:failure(rel)
    failures[#failures + 1] = { file = rel, class = f.class or f.kind, event = f.event,
                                error = f.error, action = f.action, at = f.at,
                                next_try_at = f.next_try_at }
  end
  local pending = {}
  for _, rel in ipairs(sorted_keys(state:pending())) do pending[#pending + 1] = rel end
  return {
    updated_at = timer.iso(timer.wall()),
    mode = live.mode, pid = live.pid, started_at = live.started_at, watcher = live.backend,
    dry_run = live.dry_run or nil, paused = live.paused_reason,
    running = sorted_keys(live.running),
    counts = { tables = #tables, pending = #pending, failures = #failures,
               running = live.running and #sorted_keys(live.running) or 0,
               dirty = live.dirty or 0 },
    tables = tables, pending = pending, failures = failures,
  }
end

function M.write(state_dir, doc)
  fs.mkdir_p(state_dir)
  return fs.write_atomic(fs.join(state_dir, "status.json"), cjson.encode(doc))
end

function M.read(state_dir)
  local text = fs.read(fs.join(state_dir, "status.json"))
  if not text then return nil end
  local ok, doc = pcall(cjson.decode, text)
  if ok and type(doc) == "table" then return doc end
  return nil
end

return M
