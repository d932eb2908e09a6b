-- strict.lua - lock the global table once the config is loaded.
--
-- After lock(), reading an undefined global or creating a new one raises,
-- so a typo in a policy hook fails loudly in that hook's task instead of
-- quietly reading nil.
local M = {}

function M.lock(env)
  env = env or _G
  setmetatable(env, {
    __newindex = function(_, k)
      error("assignment to undeclared global '" .. tostring(k) .. "' (use local)", 2)
    end,
    __index = function(_, k)
      error("undeclared global '" .. tostring(k) .. "'", 2)
    end,
  })
end

return M
