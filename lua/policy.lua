-- policy.lua - what the daemon does with a name: the default hooks, and the
-- one place that calls hooks (the user's from cfg.policy, or these).
--
-- Hooks (docs/policy.md has the contract and examples):
--   bucket(folder)                         -> bucket name | nil, reason
--   table(file)                            -> table name | nil, reason
--   ignore(path)                           -> true[, reason] to skip the file/folder
--   columns(file, names)                   -> header names to load with
--   on_header_change(file, local, remote, diff) -> "skip" | "load"
--   should_load(file, state)               -> false to skip this load
-- `file` is {path = absolute, rel = "folder/name.csv", folder, name};
-- `path` given to ignore() is relative to the watched folder ("sales" for a
-- folder, "sales/orders.csv" for a file).
--
-- A hook that raises fails only the task that called it: call() runs it
-- under xpcall with a traceback and hands the error back.
local names = require "sync.names"
local route = require "sync.route"

local M = {}

-- Editors and tools that write beside the real file: lock files, swap
-- files, partial downloads.  Matched against the base name.
local TEMP_PATTERNS = {
  "^~%$",          -- Office lock files (~$book.csv)
  "~$",            -- backup copies (orders.csv~)
  "^#.*#$",        -- Emacs auto-save
  "%.sw[a-p]$",    -- vim swap files
  "%.tmp$", "%.temp$", "%.part$", "%.crdownload$", "%.download$",
  "%.kate%-swp$",
}

M.defaults = {}

function M.defaults.bucket(folder) return names.bucket_name(folder) end

function M.defaults.table(file) return names.table_name(file.name) end

function M.defaults.ignore(path)
  for part in path:gmatch("[^/]+") do
    -- hidden, .~lock.x#, .#x
    if part:sub(1, 1) == "." then return true, "hidden (a name starting with '.')" end
  end
  local base = path:match("([^/]+)$") or path
  if not path:find("/", 1, true) then return false end -- a folder
  for _, p in ipairs(TEMP_PATTERNS) do
    if base:lower():find(p) then return true, "an editor's or a download's temporary or lock file" end
  end
  if not base:lower():match("%.csv$") then
    return true, "not a CSV file: only names ending in .csv are loaded"
  end
  return false
end

function M.defaults.columns(_, header_names) return header_names end

function M.defaults.on_header_change() return "skip" end

function M.defaults.should_load() return true end

local Policy = {}
Policy.__index = Policy

function M.new(cfg)
  local p = setmetatable({ cfg = cfg, hooks = {} }, Policy)
  for name, fn in pairs(M.defaults) do
    local user = cfg.policy and cfg.policy[name]
    p.hooks[name] = user or fn
    if user then p.custom = p.custom or {}; p.custom[name] = true end
  end
  return p
end

-- Whether a hook was replaced by the user's config.
function Policy:is_custom(name) return self.custom ~= nil and self.custom[name] == true end

-- call(name, ...) -> true, result... | false, "message\ntraceback"
function Policy:call(name, ...)
  local fn = self.hooks[name]
  return xpcall(fn, debug.traceback, ...)
end

-- The file description hooks receive, from a path relative to the root.
M.file_info = route.file_info

-- Where the file at `path` would go: {stage, bucket, table[, assumed]} or
-- nil, reason; a hook error is a reason too.  Decided by the engine's own
-- code (sync.folders over sync.route); used by `kbsyncd inspect`.
function Policy:target_for_path(path)
  return require("sync.folders").target_for_path(self.cfg, self, path)
end

return M
