-- sync/fswatch.lua - the engine's view of the folder: scans and change hints.
--
-- host.watch (docs/watcher.md) is the real thing: a C scanner and an
-- inotify/poll watcher.  This module turns its answers into the one shape
-- the engine uses:
--   scan(root)                -> { folders = { [name] = entries }, root = entries }
--   scan_folder(root, folder) -> entries | nil, err
--   entries = { [name] = {type, size, mtime_ns, ino, dev, mode} }
--   open{root, backend, interval_ms} -> w with wait(timeout_ms) (yields;
--     events as host.watch gives them), backend(), stats(),
--     inject_overflow(), close()
local hw = require "host.watch"

local M = {}

---------------------------------------------------------------- shapes

-- host.watch lists entries as a map name -> entry (docs/watcher.md); an
-- array of {name=, ...} is accepted too.
local function entries_of(list)
  local out = {}
  if type(list) ~= "table" then return out end
  if list[1] ~= nil and type(list[1]) == "table" and list[1].name then
    for _, e in ipairs(list) do out[e.name] = e end
  else
    for k, e in pairs(list) do
      if type(e) == "table" then out[e.name or k] = e end
    end
  end
  return out
end

local function normalize_root(r)
  local out = { folders = {}, root = {} }
  for name, f in pairs(r.folders or {}) do
    out.folders[name] = entries_of(f.entries)
  end
  out.root = entries_of(r.root_files or {})
  return out
end

---------------------------------------------------------------- API

function M.scan(root)
  local r, err = hw.scan(root)
  if not r then return nil, err end
  return normalize_root(r)
end

function M.scan_folder(root, folder)
  local r, err = hw.scan_folder(root, folder)
  if not r then return nil, err end
  return entries_of(r)
end

function M.open(opts)
  return hw.open(opts)
end

return M
