-- sync/intern.lua - one shared table per distinct list of column names.
--
-- Most files of a folder share their header, and the same list is held by
-- the state (header, columns) and by the remote table cache: interning
-- keeps one copy instead of three per file, which is most of an idle
-- daemon's heap.  Interned lists are shared: never modify one in place.
local M = {}

local lists = setmetatable({}, { __mode = "v" }) -- key -> list, freed when unused

function M.names(list)
  if type(list) ~= "table" then return list end
  local n = #list
  for i = 1, n do
    if type(list[i]) ~= "string" then return list end -- not a plain name list
  end
  local key = n .. "\0" .. table.concat(list, "\0")
  local shared = lists[key]
  if shared then return shared end
  lists[key] = list
  return list
end

return M
