-- sync/reconcile.lua - compare the three views (disk, state, Keboola) and
-- decide what must be loaded.
--
-- The remote side costs a constant number of calls whatever the number of
-- files: one token verify, one bucket list, one project-wide table list
-- with columns.  The disk side costs a scan; a file is restaged only when
-- its size, mtime or inode differ from what the state recorded at its last
-- load (or the state has no record of it, or its table is gone remotely).
local failure = require "sync.failure"
local remote_mod = require "sync.remote"
local state_mod = require "sync.state"

local M = {}

-- fetch_remote(client) -> {token, remote = sync.remote (tables and buckets),
--                          table_count, bucket_count} | nil, err
function M.fetch_remote(client)
  local token, err = client:verify_token()
  if not token then return nil, err end
  local buckets, berr = client:list_buckets()
  if not buckets then return nil, berr end
  local list, terr = client:list_tables({ include = "columns" })
  if not list then return nil, terr end
  -- Only what the engine reads stays (sync.remote): the full objects
  -- (metadata, bucket, URLs) of thousands of tables would stay in memory
  -- for the daemon's life.
  local remote = remote_mod.new()
  for _, t in ipairs(list) do remote:put(t) end
  for _, b in ipairs(buckets) do remote:put_bucket(b) end
  return { token = token, remote = remote, bucket_count = #buckets, table_count = #list }
end

-- needs_load(state, remote, rel, st, rules) -> bool, why.  rules: the
-- staging rules in force (sync.repair.rules); a file refused under others
-- is tried again although it did not change.
function M.needs_load(state, remote, rel, st, rules)
  if state:is_pending(rel) then return true, "pending" end
  local key = state_mod.stat_key(st)
  local f = state:failure(rel)
  if f then
    -- A failure whose cause is outside the file (Keboola, the network,
    -- the token, this machine, the config) is tried again at every start;
    -- a blocked file (collision) is judged again every time: what blocked
    -- it may be gone while the file itself did not change.
    local class = f.class or (f.kind == "retryable" and "remote") or "file"
    if f.blocked or failure.retried_without_change(class) then return true, "retry_failed" end
    if (f.rules or "") ~= (rules or "") then return true, "rules_changed" end
    if f.stat == key then return false, "failed_unchanged" end
  end
  local e = state:file(rel)
  if not e or not e.fingerprint then return true, "new" end
  if e.stat ~= key then return true, "changed" end
  if remote and e.table_id and not remote:has(e.table_id) then
    return true, "table_missing_remotely"
  end
  return false, "unchanged"
end

return M
