-- sync/reconcile.lua - compare the three views (disk, state, Keboola) and
-- decide what must be loaded.
--
-- The remote side costs a constant number of calls whatever the number of
-- files: one token verify, one bucket list, one project-wide table list
-- with columns.  The disk side costs a scan; a file is restaged only when
-- its size, mtime or inode differ from what the state recorded at its last
-- load (or the state has no record of it, or its table is gone remotely).
local intern = require "sync.intern"
local log = require "host.log"
local state_mod = require "sync.state"

local M = {}

-- fetch_remote(client) -> {token, buckets, tables = {id -> table}} | nil, err
function M.fetch_remote(client)
  local token, err = client:verify_token()
  if not token then return nil, err end
  local buckets, berr = client:list_buckets()
  if not buckets then return nil, berr end
  local list, terr = client:list_tables({ include = "columns" })
  if not list then return nil, terr end
  -- Keep only what the engine reads: the full objects (metadata, bucket,
  -- URLs) of thousands of tables would stay in memory for the daemon's life.
  local tables = {}
  for _, t in ipairs(list) do
    if type(t) == "table" and t.id then tables[t.id] = M.slim_table(t) end
  end
  return { token = token, buckets = buckets, tables = tables, table_count = #list }
end

function M.slim_table(t)
  return { id = t.id, columns = intern.names(t.columns), rowsCount = t.rowsCount,
           lastImportDate = t.lastImportDate }
end

-- needs_load(state, remote_tables, rel, st) -> bool, why
function M.needs_load(state, remote_tables, rel, st)
  if state:is_pending(rel) then return true, "pending" end
  local key = state_mod.stat_key(st)
  local f = state:failure(rel)
  -- A blocked file (collision, policy error) is judged again every time:
  -- what blocked it may be gone while the file itself did not change.
  if f and f.stat == key and not f.blocked then return false, "failed_unchanged" end
  local e = state:file(rel)
  if not e or not e.fingerprint then return true, "new" end
  if e.stat ~= key then return true, "changed" end
  if remote_tables and e.table_id and not remote_tables[e.table_id] then
    return true, "table_missing_remotely"
  end
  return false, "unchanged"
end

-- Files the state knows that are no longer on disk: logged once per start
-- (never deleted remotely).
function M.report_missing(state, on_disk)
  for rel, e in pairs(state:files()) do
    if not on_disk[rel] then
      log.info("file_missing_locally", { file = rel, table = e.table_id,
        action = "none: the table stays in Keboola; delete it there if it is no longer needed" })
    end
  end
end

return M
