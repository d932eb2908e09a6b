-- sync/fswatch.lua - the engine's view of the folder: scans and change hints.
--
-- host.watch (docs/watcher.md) is the real thing: a C scanner and an
-- inotify/poll watcher.  This module turns its answers into the one shape
-- the engine uses, and falls back to host.fs listings and a plain timer
-- when host.watch is not part of the build, so the engine never depends on
-- which binding it got:
--   scan(root)                -> { folders = { [name] = entries }, root = entries }
--   scan_folder(root, folder) -> entries | nil, err
--   entries = { [name] = {type, size, mtime_ns, ino, dev, mode} }
--   open{root, backend, interval_ms} -> w with wait(timeout_ms) (yields;
--     events as host.watch gives them, plus {type = "poll"} from the
--     fallback: a routine full rescan),
--     backend(), stats(), inject_overflow(), close()
local fs = require "host.fs"
local timer = require "host.timer"

local M = {}

local have_watch, hw = pcall(require, "host.watch")
if not have_watch then hw = nil end
M.native = hw ~= nil

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

---------------------------------------------------------------- fallback

local function fs_list(dir)
  local names, err = fs.list(dir)
  if not names then return nil, err end
  local out = {}
  for _, n in ipairs(names) do
    local st = fs.stat(fs.join(dir, n))
    if st then out[n] = st end
  end
  return out
end

local function fs_scan(root)
  local top, err = fs_list(root)
  if not top then return nil, err end
  local out = { folders = {}, root = {} }
  for name, st in pairs(top) do
    if st.type == "dir" then
      out.folders[name] = fs_list(fs.join(root, name)) or {}
    else
      out.root[name] = st
    end
  end
  return out
end

-- A watcher without a kernel: every interval, "look at everything again".
local Poller = {}
Poller.__index = Poller

function Poller:wait(timeout_ms)
  local ms = self.interval_ms
  if timeout_ms and timeout_ms < ms then ms = timeout_ms end
  local slept = timer.now()
  timer.sleep(ms)
  if self.closed then return {} end
  if self.overflow then self.overflow = false; return { { type = "overflow" } } end
  if timer.now() - slept >= self.interval_ms or ms >= self.interval_ms then
    return { { type = "poll" } } -- "look at everything again", quietly
  end
  return {}
end
function Poller:backend() return "poll-fallback" end
function Poller:stats() return {} end
function Poller:inject_overflow() self.overflow = true end
function Poller:close() self.closed = true end

---------------------------------------------------------------- API

function M.scan(root)
  if hw then
    local r, err = hw.scan(root)
    if not r then return nil, err end
    return normalize_root(r)
  end
  return fs_scan(root)
end

function M.scan_folder(root, folder)
  if hw then
    local r, err = hw.scan_folder(root, folder)
    if not r then return nil, err end
    return entries_of(r)
  end
  return fs_list(folder == "" and root or fs.join(root, folder))
end

function M.open(opts)
  if hw then return hw.open(opts) end
  return setmetatable({ interval_ms = opts.interval_ms or 1000 }, Poller)
end

return M
