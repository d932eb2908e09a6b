-- rig.lua - start and stop the test rig (tests/rig/up) from a Lua test.
--
--   local rig = require "helpers.rig"
--   local env = rig.up("aws")   -- table of the exported variables
--   ...
--   rig.down(env)
-- Blocking (io.popen) on purpose: tests run it before their tasks start.
local M = {}

local here = require("host.fs").realpath(debug.getinfo(1, "S").source:sub(2))
local root = here and here:match("^(.*)/tests/lua/helpers/") or "."
M.root = root

function M.up(provider, extra_env)
  local prefix = extra_env or ""
  local p = assert(io.popen(prefix .. " " .. root .. "/tests/rig/up " .. provider))
  local env = {}
  for line in p:lines() do
    local k, v = line:match("^export ([%w_]+)=(.*)$")
    if k then env[k] = v:gsub("^'(.*)'$", "%1") end
  end
  local ok = p:close()
  assert(ok and env.KBC_STORAGE_API_HOST, "tests/rig/up " .. provider .. " failed")
  return env
end

function M.down(env)
  if env and env.KBSYNCD_RIG_DIR then
    os.execute(root .. "/tests/rig/down " .. env.KBSYNCD_RIG_DIR .. " >/dev/null 2>&1")
  end
end

-- "K1='v1' K2='v2'" for a shell command line.
function M.shell_env(env)
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "='" .. tostring(v):gsub("'", "'\\''") .. "'" end
  table.sort(parts)
  return table.concat(parts, " ")
end

return M
