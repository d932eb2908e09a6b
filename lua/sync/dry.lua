-- sync/dry.lua - the client of a --dry-run: reads pass through, writes are
-- refused loudly.  The engine and load.lua log every write they would make
-- as a would_* event before reaching the client; this wrapper is the safety
-- net that makes a forgotten branch fail instead of writing.
local M = {}

local READS = { verify_token = true, list_buckets = true, get_bucket = true,
                list_tables = true, get_table = true, get_file = true }

function M.wrap(client)
  return setmetatable({}, { __index = function(_, k)
    local v = client[k]
    if type(v) ~= "function" then return v end
    if READS[k] then return function(_, ...) return v(client, ...) end end
    return function()
      error("dry run: refusing to call client:" .. k .. " (a write)", 2)
    end
  end })
end

return M
