-- lib/defaults_of.lua - the default values of one section of lua/defaults.lua.
--
--   local http_defaults = require("lib.defaults_of")("http")
--
-- lua/defaults.lua is the only place a default lives; modules that can be
-- used without the daemon's config (the Keboola client in `check`, tests)
-- take their defaults from here instead of keeping a copy.  Pure Lua.
local schema = require "defaults"

return function(section)
  local spec = section and schema[section] and schema[section].section or schema
  local out = {}
  for k, e in pairs(spec) do
    if type(e) == "table" and e.default ~= nil and not e.section then out[k] = e.default end
  end
  return out
end
