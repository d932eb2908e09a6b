-- sync/remote.lua - what the engine remembers of Keboola's tables between
-- API calls: which exist, their columns, and for some the last import.
--
-- Filled from the one project-wide table list at start (sync.reconcile)
-- and kept current by the loads.  It is held for the daemon's life, one
-- record per table, so it keeps only what the engine reads:
--   - the columns, as an interned list (sync.intern): the state's header
--     and the next file of the same shape share it;
--   - the row count and time of the last import, used only to adopt a
--     table that already holds a file the state has no record of (lost
--     state, docs/engine.md).  Once the state records the file, that
--     check never runs again, so forget_imports() drops them.
local intern = require "sync.intern"

local M = {}

local Remote = {}
Remote.__index = Remote

function M.new()
  return setmetatable({ columns = {}, imports = {}, n = 0 }, Remote)
end

-- put(t): a table object from the API (list, create job result, detail).
function Remote:put(t)
  if type(t) ~= "table" or type(t.id) ~= "string" then return end
  if self.columns[t.id] == nil then self.n = self.n + 1 end
  self.columns[t.id] = type(t.columns) == "table" and intern.names(t.columns) or false
  if t.rowsCount ~= nil or t.lastImportDate ~= nil then
    -- one short string, not a table: "rows|date"
    self.imports[t.id] = tostring(t.rowsCount or "") .. "|" .. tostring(t.lastImportDate or "")
  else
    self.imports[t.id] = nil
  end
end

function Remote:has(id) return self.columns[id] ~= nil end
function Remote:count() return self.n end

function Remote:drop(id)
  if self.columns[id] ~= nil then self.n = self.n - 1 end
  self.columns[id], self.imports[id] = nil, nil
end

-- get(id) -> {id, columns, rowsCount, lastImportDate} (a fresh table) | nil
function Remote:get(id)
  local cols = self.columns[id]
  if cols == nil then return nil end
  local t = { id = id, columns = cols or nil }
  local imp = self.imports[id]
  if imp then
    local rows, date = imp:match("^(.-)|(.*)$")
    t.rowsCount = tonumber(rows)
    t.lastImportDate = date ~= "" and date or nil
  end
  return t
end

-- The state now records a load of table `id`.
function Remote:loaded(id) self.imports[id] = nil end

-- Drops the import facts of the tables `recorded` says the state knows
-- (a function id -> bool).
function Remote:forget_imports(recorded)
  for id in pairs(self.imports) do
    if recorded(id) then self.imports[id] = nil end
  end
end

return M
