-- sync/remote.lua - what the engine remembers of Keboola's buckets and
-- tables between API calls: which exist, the tables' columns, and for some
-- tables the last import.
--
-- Filled from the one project-wide table list at start (sync.reconcile)
-- and kept current by the loads.  It is held for the daemon's life, one
-- record per table, so it keeps only what the engine reads, as text in
-- host.kv maps (no Lua table per table):
--   - the columns (JSON text, "" when the API gave none; get() decodes a
--     fresh list);
--   - the row count and time of the last import, used only to adopt a
--     table that already holds a file the state has no record of (lost
--     state, docs/engine.md).  Once the state records the file, that
--     check never runs again, so forget_imports() drops them.
local cjson = require "cjson"
local kv = require "host.kv"

local M = {}

local Remote = {}
Remote.__index = Remote

function M.new()
  return setmetatable({ columns = kv.new(), imports = kv.new(), bucket_list = kv.new() }, Remote)
end

-- put_bucket(b): a bucket object from the API.  Keeps, and returns, only
-- what the engine and keboola.find_bucket read: {id, name, stage, displayName}.
function Remote:put_bucket(b)
  if type(b) ~= "table" or type(b.id) ~= "string" then return nil end
  local slim = { id = b.id, name = b.name, stage = b.stage, displayName = b.displayName }
  self.bucket_list:set(b.id, cjson.encode(slim))
  return slim
end

-- buckets() -> a fresh list of {id, name, stage, displayName}, by id
function Remote:buckets()
  local out = {}
  for _, text in self.bucket_list:pairs() do out[#out + 1] = cjson.decode(text) end
  table.sort(out, function(a, b) return a.id < b.id end)
  return out
end

-- put(t): a table object from the API (list, create job result, detail).
function Remote:put(t)
  if type(t) ~= "table" or type(t.id) ~= "string" then return end
  -- "" when the API gave no columns (the table exists all the same)
  self.columns:set(t.id, type(t.columns) == "table" and cjson.encode(t.columns) or "")
  local known = t.rowsCount ~= nil or t.lastImportDate ~= nil
  self.imports:set(t.id, known and cjson.encode { rowsCount = t.rowsCount,
                                                  lastImportDate = t.lastImportDate } or nil)
end

function Remote:has(id) return self.columns:get(id) ~= nil end

function Remote:drop(id)
  self.columns:set(id, nil)
  self.imports:set(id, nil)
end

-- get(id) -> {id, columns, rowsCount, lastImportDate} (a fresh table) | nil
function Remote:get(id)
  local cols = self.columns:get(id)
  if cols == nil then return nil end
  local t = { id = id, columns = cols ~= "" and cjson.decode(cols) or nil }
  local imp = self.imports:get(id)
  if imp then
    local facts = cjson.decode(imp)
    t.rowsCount, t.lastImportDate = facts.rowsCount, facts.lastImportDate
  end
  return t
end

-- The state now records a load of table `id`.
function Remote:loaded(id) self.imports:set(id, nil) end

-- Drops the import facts of the tables `recorded` says the state knows
-- (a function id -> bool).
function Remote:forget_imports(recorded)
  for id in self.imports:pairs() do
    if recorded(id) then self.imports:set(id, nil) end
  end
end

return M
