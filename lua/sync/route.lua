-- sync/route.lua - where one entry of the watched folder goes, or why it is
-- ignored: the one rule.  sync.folders asks it for every entry it scans
-- and `kbsyncd inspect` asks it (through sync.folders) for the file it
-- inspects, so the two cannot disagree.
--
--   place(rel)                   -> folder, name | nil, reason, event
--   entry(policy, rel, kind)     -> folder, name | nil, reason, event
--   bucket(policy, folder)       -> name | nil, reason, event
--   table(policy, root, rel)     -> name | nil, reason, event
--   rel_of(root, path)           -> rel | nil (path outside root)
--   file_info(root, rel)         -> the `file` table hooks receive
--
-- `rel` is relative to the watched folder; `kind` is host.fs's type
-- ("file", "dir", "symlink", "fifo", "other").  `event` is what the
-- engine logs for the refusal (root_file_ignored, folder_ignored,
-- entry_skipped, file_ignored, bucket_name_invalid, table_name_invalid,
-- policy_failed).  Hook errors come back as reasons, never raised: the
-- reason holds the error's first line, a fourth value (`detail`) the whole
-- error with its traceback, for the log.
-- Name collisions need every name of a folder (or of the root): they are
-- sync.folders' business, on top of this.
local M = {}

-- Reasons complete "ignored: ..." (what `kbsyncd inspect` prints).
M.ROOT_FILE = "directly in the watched folder, not in a sub-folder: only <folder>/<file>.csv is synced;"
  .. " move it into a sub-folder"
M.TOO_DEEP = "in a folder inside a sub-folder: only <folder>/<file>.csv is synced, deeper folders are not"
M.NOT_REGULAR = "not a regular file: only regular files are loaded (symlinks, FIFOs and devices are skipped)"

-- The first line of a hook's error (the traceback follows it).
local function first_line(err) return (tostring(err):match("^[^\n]*")) end

function M.file_info(root, rel)
  local folder, name = rel:match("^([^/]+)/([^/]+)$")
  return { path = root .. "/" .. rel, rel = rel, folder = folder, name = name }
end

-- Only <folder>/<name> is synced: nothing in the root, nothing deeper.
function M.place(rel)
  if not rel:find("/", 1, true) then return nil, M.ROOT_FILE, "root_file_ignored" end
  local folder, name = rel:match("^([^/]+)/([^/]+)$")
  if not folder then return nil, M.TOO_DEEP, "folder_ignored" end
  return folder, name
end

-- policy.ignore(path): true (ignored, with the hook's reason or a generic
-- one), false, or nil plus the failure and its detail.
local function ignored(policy, path)
  local ok, yes, why = policy:call("ignore", path)
  if not ok then return nil, "policy.ignore failed: " .. first_line(yes), yes end
  if yes then return true, why or "ignored by policy.ignore" end
  return false
end

-- Whether an entry of the watched folder is a file the engine considers
-- at all (before names are mapped).  Folders are `kind = "dir"`: a
-- sub-folder of the root is wanted unless policy.ignore says so; a folder
-- inside one is too deep.
function M.entry(policy, rel, kind)
  if kind == "dir" and not rel:find("/", 1, true) then
    local yes, why, detail = ignored(policy, rel)
    if yes == nil then return nil, why, "policy_failed", detail end
    if yes then return nil, "the folder is ignored: " .. why, "folder_ignored" end
    return rel
  end
  local folder, name, event = M.place(rel)
  if not folder then return nil, name, event end
  local yes, why, detail = ignored(policy, folder)
  if yes == nil then return nil, why, "policy_failed", detail end
  if yes then return nil, "its folder is ignored: " .. why, "folder_ignored" end
  if kind == "dir" then return nil, M.TOO_DEEP, "folder_ignored" end
  if kind ~= "file" then return nil, M.NOT_REGULAR, "entry_skipped" end
  yes, why, detail = ignored(policy, rel)
  if yes == nil then return nil, why, "policy_failed", detail end
  if yes then return nil, why, "file_ignored" end
  return folder, name
end

-- The bucket name of a folder, through policy.bucket.
function M.bucket(policy, folder)
  local ok, name, why = policy:call("bucket", folder)
  if not ok then return nil, "policy.bucket failed: " .. first_line(name), "policy_failed", name end
  if type(name) ~= "string" or name == "" then
    return nil, why or "policy.bucket gave no name", "bucket_name_invalid"
  end
  return name
end

-- The table name of a file, through policy.table.
function M.table(policy, root, rel)
  local ok, name, why = policy:call("table", M.file_info(root, rel))
  if not ok then return nil, "policy.table failed: " .. first_line(name), "policy_failed", name end
  if type(name) ~= "string" or name == "" then
    return nil, why or "policy.table gave no name", "table_name_invalid"
  end
  return name
end

-- path relative to root ("sales/orders.csv", "orders.csv"), or nil when
-- path is not inside root.  Both are absolute and normalised (no trailing
-- slash, no "." or ".." parts: config.lua and the caller see to that).
function M.rel_of(root, path)
  if not root or root == "" then return nil end
  local prefix = root == "/" and "/" or root .. "/"
  if path:sub(1, #prefix) ~= prefix or #path == #prefix then return nil end
  return path:sub(#prefix + 1)
end

return M
