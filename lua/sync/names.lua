-- sync/names.lua - the one rule that turns local names into Keboola names,
-- and the detection of two local names that end up the same.
--
-- The rule (docs/policy.md repeats it for users):
--   1. a table name is the file name without its ".csv" extension;
--      a bucket name is the folder name;
--   2. every run of characters outside [A-Za-z0-9_-] becomes one "_"
--      (bytes of non-ASCII letters included: "Přehled" -> "P_ehled");
--   3. leading and trailing "_" and "-" are removed (Keboola refuses a
--      display name starting with "_");
--   4. the result is cut to 96 characters for tables and 94 for buckets
--      (the id of a legacy bucket adds "c-", and ids are limited to 96).
-- A name that ends up empty cannot be mapped: the caller gets nil, reason.
-- Pure Lua: no host modules, unit-tested with plain lua5.4.
local M = {}

M.TABLE_MAX = 96
M.BUCKET_MAX = 94

local function clean(name, max)
  local s = name:gsub("[^A-Za-z0-9_%-]+", "_")
  s = s:gsub("^[_%-]+", ""):gsub("[_%-]+$", "")
  if #s > max then s = s:sub(1, max):gsub("[_%-]+$", "") end
  return s
end

-- "orders.csv" -> "orders"; nil, reason when nothing usable is left.
function M.table_name(file_name)
  local base = file_name:gsub("%.[cC][sS][vV]$", "")
  local s = clean(base, M.TABLE_MAX)
  if s == "" then
    return nil, "the file name '" .. file_name .. "' has no letters or digits Keboola accepts"
  end
  return s
end

function M.bucket_name(folder)
  local s = clean(folder, M.BUCKET_MAX)
  if s == "" then
    return nil, "the folder name '" .. folder .. "' has no letters or digits Keboola accepts"
  end
  return s
end

-- Keboola compares bucket and table names without regard to case in
-- practice (ids are case-insensitive on Snowflake), so collisions are
-- detected case-insensitively too.
function M.key(name) return name:lower() end

-- groups: { [local_name] = mapped_name }.  Returns { [local_name] =
-- {others...} } for every local name that shares its mapped name with
-- another one (empty table when there are no collisions).
function M.collisions(groups)
  local by_target = {}
  for local_name, mapped in pairs(groups) do
    local k = M.key(mapped)
    local list = by_target[k]
    if not list then list = {}; by_target[k] = list end
    list[#list + 1] = local_name
  end
  local out = {}
  for _, list in pairs(by_target) do
    if #list > 1 then
      table.sort(list)
      for _, n in ipairs(list) do
        local others = {}
        for _, o in ipairs(list) do if o ~= n then others[#others + 1] = o end end
        out[n] = others
      end
    end
  end
  return out
end

return M
