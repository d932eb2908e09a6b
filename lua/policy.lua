-- policy.lua - what the daemon does with a name: the default hooks, and the
-- one place that calls hooks (the user's from cfg.policy, or these).
--
-- Hooks (docs/policy.md has the contract and examples):
--   bucket(folder)                         -> bucket name | nil, reason
--   table(file)                            -> table name | nil, reason
--   ignore(path)                           -> true to skip the file/folder
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
    if part:sub(1, 1) == "." then return true end -- hidden, .~lock.x#, .#x
  end
  local base = path:match("([^/]+)$") or path
  if not path:find("/", 1, true) then return false end -- a folder
  for _, p in ipairs(TEMP_PATTERNS) do
    if base:lower():find(p) then return true end
  end
  return not base:lower():match("%.csv$")
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
function M.file_info(root, rel)
  local folder, name = rel:match("^([^/]+)/([^/]+)$")
  return { path = root .. "/" .. rel, rel = rel, folder = folder, name = name }
end

-- Where a path would go: {stage, bucket, table} or nil, reason.  Used by
-- `kbsyncd inspect` and by the engine; a hook error is a reason too.
function Policy:target_for_path(path)
  local root = self.cfg.watch_dir
  local rel
  if root and path:sub(1, #root + 1) == root .. "/" then
    rel = path:sub(#root + 2)
  else
    local dir = path:match("^(.*)/[^/]+$") or "."
    local folder = dir:match("([^/]+)$") or dir
    rel = folder .. "/" .. (path:match("([^/]+)$") or path)
  end
  if not rel:find("/", 1, true) then
    return nil, "files directly in the watched folder are ignored: move it into a sub-folder"
  end
  if rel:find("/", 1, true) ~= rel:find("/[^/]*$") then
    return nil, "files in deeper folders are ignored: only <folder>/<file>.csv is synced"
  end
  local file = M.file_info(root or "", rel)
  local ok, ignored = self:call("ignore", rel)
  if not ok then return nil, "policy.ignore failed: " .. tostring(ignored) end
  if ignored then return nil, "ignored by policy.ignore (hidden, temporary or not a .csv file)" end
  local bok, bucket, berr = self:call("bucket", file.folder)
  if not bok then return nil, "policy.bucket failed: " .. tostring(bucket) end
  if not bucket then return nil, berr or "policy.bucket gave no name" end
  local tok, tbl, terr = self:call("table", file)
  if not tok then return nil, "policy.table failed: " .. tostring(tbl) end
  if not tbl then return nil, terr or "policy.table gave no name" end
  return { stage = self.cfg.stage or "in", bucket = bucket, table = tbl }
end

return M
