-- sync/folders.lua - the local side: what is in the watched folder, which
-- files are candidates for loading, and where each one goes.
--
-- Keeps what the last scan of every sub-folder found to be loadable and
-- answers "what changed" by comparing a new scan with it; watcher events
-- are only hints that say which folder to scan again.  Kept for the
-- daemon's life, so per file only the name, its stat key (size:mtime:ino,
-- sync.state.stat_key) and its table name, as text in two host.kv maps:
-- nothing of the entries that are ignored, and no Lua object per file or
-- per folder (the few that are kept would pin heap pages for good).  Decides, through
-- sync.route (the one rule, shared with `kbsyncd inspect`), which entries
-- are ignored (logged once each) and maps each folder to a bucket and each
-- file to a table; two local names that map to the same bucket or table
-- block each other (an ERROR naming both, neither loaded).
local fs = require "host.fs"
local kv = require "host.kv"
local log = require "host.log"
local fswatch = require "sync.fswatch"
local names = require "sync.names"
local route = require "sync.route"
local stat_key = require("sync.state").stat_key

local M = {}

local Folders = {}
Folders.__index = Folders

-- A folder's candidates (name -> stat key) as one string:
-- "name\0key\0name\0key\0..." (a file name never holds a NUL byte).
local function pack_listing(cand)
  local parts = {}
  for name, key in pairs(cand) do parts[#parts + 1] = name .. "\0" .. key .. "\0" end
  return table.concat(parts)
end

local function unpack_listing(text)
  local cand = {}
  for name, key in (text or ""):gmatch("([^\0]*)\0([^\0]*)\0") do cand[name] = key end
  return cand
end

-- Logs nothing (`kbsyncd inspect` scans only to answer for one file).
local SILENT = setmetatable({}, { __index = function() return function() end end })

-- opts: {quiet = true} logs nothing.
function M.new(cfg, policy, opts)
  return setmetatable({
    cfg = cfg, root = cfg.watch_dir, policy = policy,
    log = opts and opts.quiet and SILENT or log,
    listings = kv.new(), -- folder -> its candidates (CSV files we would load),
                         -- packed by pack_listing; every folder scanned has one
    buckets = kv.new(),  -- folder -> bucket name | "" (none: see bucket_why)
    bucket_why = {},     -- folder -> why it has no bucket name
    targets = kv.new(),  -- rel -> table name
    blocked = {},        -- rel -> reason
    blocked_event = {},  -- rel -> the ERROR event that explains the block
    blocked_folders = {},-- folder -> reason
    logged = {},         -- "event:key" -> true (log once)
    root_files = {},
  }, Folders)
end

function Folders:once(level, event, key, fields)
  local k = event .. ":" .. key
  if self.logged[k] then return end
  self.logged[k] = true
  self.log[level](event, fields)
end

-- err: the hook's error with its traceback (sync.route's reason holds
-- only its first line).
function Folders:policy_error(hook, subject, err)
  self:once("error", "policy_failed", hook .. ":" .. subject, { file = subject, hook = hook,
    error = err, action = "fix policy." .. hook .. " in the config and send HUP; the daemon keeps running" })
end

-- Bucket name of a folder (cached per scan of the root).
function Folders:bucket_name(folder)
  local b = self.buckets:get(folder)
  if b == nil then
    local name, why, event, detail = route.bucket(self.policy, folder)
    if event == "policy_failed" then
      self:policy_error("bucket", folder, detail)
      b = false
    elseif not name then
      self:once("error", "bucket_name_invalid", folder, { folder = folder, reason = why,
        action = "rename the folder (letters, digits, - and _) or map it in policy.bucket" })
      b = false
    else
      b = name
    end
    self.buckets:set(folder, b or "")
    self.bucket_why[folder] = not b and why or nil
  end
  if not b or b == "" then return nil, self.bucket_why[folder] or "no bucket name" end
  return b
end

function Folders:blocked_folder(folder) return self.blocked_folders[folder] end

-- Buckets: two folders with one bucket name block each other.
function Folders:check_bucket_collisions()
  local map = {}
  for folder in self.listings:pairs() do
    local b = self:bucket_name(folder)
    if b then map[folder] = b end
  end
  local coll = names.collisions(map)
  self.blocked_folders = {}
  for folder, others in pairs(coll) do
    self.blocked_folders[folder] = "bucket name '" .. map[folder] .. "' also used by " .. table.concat(others, ",")
    self:once("error", "bucket_name_collision", folder .. "|" .. table.concat(others, ","), {
      folder = folder, bucket = map[folder], others = table.concat(others, ","),
      action = "rename one of the folders (or map it in policy.bucket); neither is loaded until then" })
  end
end

-- Logs (once) why sync.route turned an entry away.
function Folders:turned_away(rel, kind, why, event, detail)
  if event == "policy_failed" then
    self:policy_error("ignore", rel, detail)
  elseif event == "entry_skipped" then
    self:once("info", "entry_skipped", rel, { file = rel, type = kind,
      action = "none: only regular files are loaded (symlinks, FIFOs and devices are skipped)" })
  elseif event == "root_file_ignored" then
    self:once("info", "root_file_ignored", rel, { file = rel, type = kind,
      action = "move it into a sub-folder: only <folder>/<file>.csv is synced" })
  else
    self:once("debug", event, rel, { file = rel, reason = why })
  end
end

-- Classifies the entries of one folder; returns its candidates (name ->
-- stat key).
function Folders:classify(folder, entries)
  local cand = {}
  for name, st in pairs(entries) do
    local rel = folder .. "/" .. name
    local ok, why, event, detail = route.entry(self.policy, rel, st.type)
    if ok then cand[name] = stat_key(st) else self:turned_away(rel, st.type, why, event, detail) end
  end
  return cand
end

-- Maps the folder's candidates to tables and blocks name collisions.
function Folders:map_tables(folder)
  local map = {}
  for name in self:names(folder) do
    local rel = folder .. "/" .. name
    self.targets:set(rel, nil)
    self.blocked[rel], self.blocked_event[rel] = nil, nil
    local t, why, event, detail = route.table(self.policy, self.root, rel)
    if event == "policy_failed" then
      self:policy_error("table", rel, detail)
      self.blocked[rel] = why
      self.blocked_event[rel] = "policy_failed"
    elseif not t then
      self.blocked[rel] = why or "no table name"
      self.blocked_event[rel] = "table_name_invalid"
      self:once("error", "table_name_invalid", rel, { file = rel, reason = why,
        action = "rename the file (letters, digits, - and _) or map it in policy.table" })
    else
      map[name] = t
    end
  end
  local coll = names.collisions(map)
  for name, t in pairs(map) do
    local rel = folder .. "/" .. name
    if coll[name] then
      local others = {}
      for _, o in ipairs(coll[name]) do others[#others + 1] = folder .. "/" .. o end
      self.blocked[rel] = "table name '" .. t .. "' also used by " .. table.concat(others, ",")
      self.blocked_event[rel] = "table_name_collision"
      self:once("error", "table_name_collision", rel .. "|" .. table.concat(others, ","), {
        file = rel, table = t, others = table.concat(others, ","),
        action = "rename one of the files (or map it in policy.table); neither is loaded until then" })
    else
      self.targets:set(rel, t)
    end
  end
end

-- Where rel goes: {stage, bucket, table} or nil, reason[, event].  The
-- event is set when the file is blocked by a problem someone must fix
-- (a collision, a name Keboola cannot take, a policy error); a file the
-- rule turns away (sync.route) gets its reason only.
function Folders:target(rel)
  local folder = rel:match("^([^/]+)/[^/]+$")
  if folder and self.blocked_folders[folder] then
    return nil, self.blocked_folders[folder], "bucket_name_collision"
  end
  if self.blocked[rel] then return nil, self.blocked[rel], self.blocked_event[rel] end
  local t = self.targets:get(rel)
  if not t then return nil, self:why_not(rel) end
  local b, why = self:bucket_name(folder)
  if not b then return nil, why, "bucket_name_invalid" end
  return { stage = self.cfg.stage, bucket = b, table = t }
end

-- Why rel is no candidate: route's reason for what is on disk now.
function Folders:why_not(rel)
  local st = fs.stat(fs.join(self.root, rel))
  if not st then return "no such file in the watched folder" end
  local ok, why = route.entry(self.policy, rel, st.type)
  if not ok then return why end
  if st.type == "dir" then return "a folder: only the files in it are loaded" end
  return "not seen yet by a scan of its folder"
end

function Folders:stat(rel)
  local st = fs.stat(fs.join(self.root, rel))
  if not st or st.type ~= "file" then return nil end
  return st
end

-- The candidates: rel -> stat key.
function Folders:files()
  local out = {}
  for folder, text in self.listings:pairs() do
    for name, key in pairs(unpack_listing(text)) do out[folder .. "/" .. name] = key end
  end
  return out
end

-- A folder's candidates: name -> stat key (a fresh table).
function Folders:listing(folder) return unpack_listing(self.listings:get(folder)) end

-- Iterator over the names of a folder's candidates.
function Folders:names(folder) return next, self:listing(folder), nil end

function Folders:known(folder) return self.listings:get(folder) ~= nil end

function Folders:folder_names()
  local out = {}
  for folder in self.listings:pairs() do out[folder] = true end
  return out
end

-- Applies a new listing of one folder; adds the changes (a file's `st` is
-- its stat key).
function Folders:apply_folder(folder, entries, changes, is_new)
  local old = self:listing(folder)
  local was_blocked, gone = {}, {}
  local cand = self:classify(folder, entries)
  for name in pairs(old) do
    was_blocked[name] = self.blocked[folder .. "/" .. name] ~= nil
    if not cand[name] then gone[#gone + 1] = name end
  end
  table.sort(gone)
  self.listings:set(folder, pack_listing(cand))
  self:map_tables(folder)
  for name, key in pairs(cand) do
    -- A file that was blocked (e.g. by a collision whose partner is now
    -- gone) is as good as changed.
    local unblocked = was_blocked[name] and not self.blocked[folder .. "/" .. name]
    if unblocked or old[name] ~= key then
      changes[#changes + 1] = { kind = "file", rel = folder .. "/" .. name, st = key }
    end
  end
  for _, name in ipairs(gone) do
    local rel = folder .. "/" .. name
    self.targets:set(rel, nil)
    self.blocked[rel] = nil
    if not entries[name] then
      self.log.info("file_deleted", { file = rel,
        action = "none: the table stays in Keboola; delete it there if it is no longer needed" })
      self.logged["file_deleted:" .. rel] = nil
    end
    changes[#changes + 1] = { kind = "deleted", rel = rel }
  end
  if is_new then changes[#changes + 1] = { kind = "new_folder", folder = folder } end
end

function Folders:note_root_files(root_entries)
  for name, st in pairs(root_entries or {}) do
    local _, why, event = route.place(name)
    self:turned_away(name, st.type, why, event)
  end
end

-- Sub-folders that policy lets through (hidden folders are ignored).
function Folders:wanted_folder(name)
  local ok, why, event, detail = route.entry(self.policy, name, "dir")
  if ok then return true end
  if event == "policy_failed" then
    self:policy_error("ignore", name, detail)
  else
    self:once("debug", "folder_ignored", name, { folder = name, reason = why })
  end
  return false
end

function Folders:scan_failed(err, changes)
  self.log.error("scan_failed", { dir = self.root, error = err,
    action = "check that watch_dir exists and is readable" })
  return changes
end

-- Everything, from scratch; changes relative to the previous scans.
-- `on_disk`, when given, gets every regular file found (rel -> true).
function Folders:rescan_all(on_disk)
  local changes = {}
  local r, err = fswatch.scan(self.root)
  if not r then return self:scan_failed(err, changes) end
  self:note_root_files(r.root)
  local seen = {}
  for folder, entries in pairs(r.folders) do
    if self:wanted_folder(folder) then
      seen[folder] = true
      self:apply_folder(folder, entries, changes, not self:known(folder))
      for name, st in pairs(on_disk and entries or {}) do
        if st.type == "file" then on_disk[folder .. "/" .. name] = true end
      end
    end
  end
  return self:drop_unseen(seen, changes)
end

-- After a scan of the root: folders no longer there are dropped, and the
-- bucket names are checked for collisions again.
function Folders:drop_unseen(seen, changes)
  for folder in self.listings:pairs() do
    if not seen[folder] then self:drop_folder(folder, changes) end
  end
  self:check_bucket_collisions()
  return changes
end

function Folders:drop_folder(folder, changes)
  self.log.info("folder_deleted", { folder = folder,
    action = "none: its bucket and tables stay in Keboola" })
  for name in self:names(folder) do
    local rel = folder .. "/" .. name
    self.targets:set(rel, nil)
    self.blocked[rel] = nil
    changes[#changes + 1] = { kind = "deleted", rel = rel }
  end
  self.listings:set(folder, nil)
  self.buckets:set(folder, nil)
  self.bucket_why[folder] = nil
end

-- The first scan: candidate files and every file on disk (rel -> true).
function Folders:rescan_all_initial()
  local on_disk = {}
  self:rescan_all(on_disk)
  return self:files(), on_disk
end

-- The root changed: folders came or went, or root files appeared.
function Folders:rescan_root()
  -- A root listing is cheap next to the per-folder scans it saves: only
  -- new folders are listed in full.
  local changes = {}
  local names_, err = fs.list(self.root)
  if not names_ then return self:scan_failed(err, changes) end
  local seen, root_files = {}, {}
  for _, name in ipairs(names_) do
    local st = fs.stat(fs.join(self.root, name))
    if st and st.type == "dir" then
      if self:wanted_folder(name) then
        seen[name] = true
        if not self:known(name) then
          local entries = fswatch.scan_folder(self.root, name) or {}
          self:apply_folder(name, entries, changes, true)
        end
      end
    elseif st then
      root_files[name] = st
    end
  end
  self:note_root_files(root_files)
  return self:drop_unseen(seen, changes)
end

function Folders:rescan_folder(folder)
  local changes = {}
  if not self:wanted_folder(folder) then return changes end
  local entries, err = fswatch.scan_folder(self.root, folder)
  if not entries then
    if self:known(folder) then self:drop_folder(folder, changes) end
    self.log.debug("scan_folder_failed", { folder = folder, error = err })
    return changes
  end
  self:apply_folder(folder, entries, changes, not self:known(folder))
  if changes[#changes] and changes[#changes].kind == "new_folder" then self:check_bucket_collisions() end
  return changes
end

-- An absolute path without symlinked folders, so it compares with the
-- watched folder's; the file itself is not resolved (a symlink stays one).
local function real_path(path)
  local dir = fs.realpath(fs.dirname(path))
  return dir and fs.join(dir, fs.basename(path)) or path
end

-- target_for_path(cfg, policy, path) -> {stage, bucket, table[, assumed]}
-- | nil, reason[, event]: where the engine would send the file at `path`, decided
-- by a quiet scan of the watched folder as the engine scans it (ignore
-- rules, depth, names, collisions).  A file outside the watched folder (or
-- with no watch_dir set) is judged as if it were <its folder>/<its name>
-- in it, without collisions; `assumed` is then that place.  `event` is
-- set as by Folders:target: the file is blocked until someone acts.
function M.target_for_path(cfg, policy, path)
  local abs = real_path(path)
  local root = cfg.watch_dir and (fs.realpath(cfg.watch_dir) or cfg.watch_dir)
  local rel = route.rel_of(root, abs)
  if rel then
    local st = fs.stat(root)
    if not st or st.type ~= "dir" then
      return nil, "the watched folder " .. cfg.watch_dir .. " cannot be read"
    end
    local f = M.new(cfg, policy, { quiet = true })
    f:rescan_all()
    return f:target(rel)
  end
  local dir = fs.dirname(abs)
  rel = fs.basename(dir) .. "/" .. fs.basename(abs)
  local st = fs.stat(abs)
  local folder, why = route.entry(policy, rel, st and st.type or "file")
  if not folder then return nil, why end
  local bucket, bwhy = route.bucket(policy, folder)
  if not bucket then return nil, bwhy end
  local tbl, twhy = route.table(policy, fs.dirname(dir), rel)
  if not tbl then return nil, twhy end
  return { stage = cfg.stage, bucket = bucket, table = tbl,
           assumed = fs.join(cfg.watch_dir or "<watch_dir>", rel) }
end

return M
