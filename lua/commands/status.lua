-- commands/status.lua - `kbsyncd status [--json]`: what the saved state
-- says (tables, last loads, pending work, failures) and, when a daemon is
-- running, what its status.json adds (running loads, watcher).  Reads
-- files only: no API call, no token needed.
local cjson = require "cjson"
local state_mod = require "sync.state"
local status_mod = require "sync.status"

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
  local live = status_mod.read(cfg.state_dir)
  if live then
    doc.daemon = { mode = live.mode, started_at = live.started_at, updated_at = live.updated_at,
                   watcher = live.watcher, paused = live.paused, running = list(live.running) }
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
  if doc.daemon then
    p("daemon: %s since %s, last update %s%s", tostring(doc.daemon.mode), tostring(doc.daemon.started_at),
      tostring(doc.daemon.updated_at), doc.daemon.paused and (" - PAUSED: " .. doc.daemon.paused) or "")
  end
  p("tables: %d", #doc.tables)
  for _, t in ipairs(doc.tables) do
    local l = t.last_load or {}
    p("  %-40s %-40s %s rows=%s bytes=%s job=%s", t.file, tostring(t.table_id),
      tostring(l.at or "-"), num(l.rows), num(l.bytes), num(l.job_id))
  end
  p("pending: %d", #doc.pending)
  for _, rel in ipairs(doc.pending) do p("  %s", rel) end
  p("failures: %d", #doc.failures)
  for _, f in ipairs(doc.failures) do
    p("  %s: %s (%s) at %s", f.file, tostring(f.event or f.kind), tostring(f.error), tostring(f.at))
    if f.action then p("    what to do: %s", f.action) end
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return M
