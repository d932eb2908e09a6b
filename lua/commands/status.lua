-- commands/status.lua - `kbsyncd status [--json]`: what the saved state
-- says (tables, last loads, pending work, failures with their class and
-- next try) and whether a daemon runs now (the state_dir lock), with what
-- its status.json adds (loads running, watcher).  Reads files only: no
-- API call, no token needed.
local cjson = require "cjson"
local fs = require "host.fs"
local state_mod = require "sync.state"
local status_mod = require "sync.status"
local LOCK_FILE = require("sync.engine").LOCK_FILE

local M = {}

-- lua-cjson reads every number as a float: show 10, not 10.0.
local function num(v)
  if v == nil then return "-" end
  return tostring(math.type(v) == "float" and math.tointeger(v) or v)
end

local function list(v)
  if type(v) ~= "table" then return {} end
  return v
end

function M.run(cfg, opts)
  opts = opts or {}
  local state = state_mod.read(cfg.state_dir)
  if state.rebuilt and not state.missing then
    io.stderr:write("kbsyncd: ", state.path, " is not usable (", tostring(state.reason),
      "); the daemon rebuilds it at its next start\n")
  end
  local doc = status_mod.build(state, {})
  -- Running or not is the lock's word (a daemon that stopped, or was
  -- killed, leaves its last status.json behind).
  local holder = fs.lock_holder(fs.join(cfg.state_dir, LOCK_FILE))
  local live = status_mod.read(cfg.state_dir)
  doc.daemon = { running = holder ~= nil, pid = math.type(holder) and holder or nil }
  if live then
    doc.daemon.mode, doc.daemon.started_at, doc.daemon.updated_at = live.mode, live.started_at, live.updated_at
    if holder then
      doc.daemon.watcher, doc.daemon.paused = live.watcher, live.paused
      doc.daemon.loading = list(live.running)
    end
  end
  -- Files the state still tracks but that are gone from the folder: their
  -- tables stay in Keboola; the daemon forgets them at its next start.
  for _, t in ipairs(doc.tables) do
    if cfg.watch_dir and not fs.stat(fs.join(cfg.watch_dir, t.file)) then t.deleted_locally = true end
  end
  doc.state_file = state.path
  doc.state_missing = state.missing or nil
  if opts.json then
    io.stdout:write(cjson.encode(doc), "\n")
    return 0
  end
  local out = {}
  local function p(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  p("state: %s%s", state.path, state.missing and " (none yet: the daemon has not run)" or "")
  local d = doc.daemon
  if d.running then
    p("daemon: running (pid %s), %s since %s, last update %s%s", tostring(d.pid or "?"),
      tostring(d.mode), tostring(d.started_at), tostring(d.updated_at),
      d.paused and (" - PAUSED: " .. d.paused) or "")
    p("loading now: %s", #d.loading > 0 and table.concat(d.loading, ", ") or "nothing")
  else
    p("daemon: not running%s", d.updated_at and string.format(" (last %s, last update %s)",
      tostring(d.mode), tostring(d.updated_at)) or "")
  end
  p("tables: %d", #doc.tables)
  for _, t in ipairs(doc.tables) do
    local l = t.last_load or {}
    p("  %-40s %-40s %s rows=%s bytes=%s job=%s%s", t.file, tostring(t.table_id),
      tostring(l.at or "-"), num(l.rows), num(l.bytes), num(l.job_id),
      t.deleted_locally and "  (deleted locally; the table stays)" or "")
  end
  p("pending: %d", #doc.pending)
  for _, rel in ipairs(doc.pending) do p("  %s", rel) end
  p("failures: %d", #doc.failures)
  for _, f in ipairs(doc.failures) do
    p("  %s: %s [%s] (%s) at %s%s", f.file, tostring(f.event), tostring(f.class or "file"),
      tostring(f.error), tostring(f.at),
      f.next_try_at and (", next try " .. f.next_try_at)
        or ((f.class or "file") == "file" and ", next try when the file changes"
          or ", next try at the next start or once"))
    if f.action then p("    what to do: %s", f.action) end
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return M
