-- sync/state.lua - what the daemon knows it has done: state_dir/state.json.
--
-- Shape (version 1; docs/engine.md describes every field):
--   { version = 1,
--     files = { ["sales/orders.csv"] = {
--         bucket_id, table_id, table, fingerprint, stat, header = {...},
--         columns = {...}, job_id, rows, bytes, loaded_at } },
--     pending  = { ["sales/orders.csv"] = true },   -- work not done yet
--     failures = { ["sales/orders.csv"] = { kind, event, error, at, stat } } }
-- `stat` is the string "size:mtime_ns:ino" (M.stat_key): lua-cjson writes
-- numbers with 14 significant digits, which would round nanosecond times
-- and inode numbers, so they are kept as text.
-- Writes go through host.fs.write_atomic (temp file, fsync, rename), so a
-- crash leaves the old or the new file, never half of one.  A missing or
-- unreadable file is not fatal: the engine rebuilds from the remote side.
--
-- In memory each file entry is kept as its JSON text in a host.kv map, not
-- as a table: an idle daemon reads entries rarely (a change, a status
-- write) but holds one per tracked file for its whole life, and a table
-- with its strings costs several times the text, spread over the heap.
-- file(rel) decodes a fresh copy (change it and hand it back through
-- set_file); save() splices the texts into the document.
local cjson = require "cjson"
local fs = require "host.fs"
local kv = require "host.kv"
local log = require "host.log"

local M = {}

M.VERSION = 1

local State = {}
State.__index = State

-- The identity of a file's bytes as far as stat can tell: "size:mtime:ino"
-- from a stat table (a key is returned as it is).
function M.stat_key(st)
  if not st or type(st) == "string" then return st end
  local function int(v) return tostring(math.tointeger(v) or v or 0) end
  return int(st.size) .. ":" .. int(st.mtime_ns) .. ":" .. int(st.ino)
end

local function empty()
  return { version = M.VERSION, files = kv.new(), pending = {}, failures = {} }
end

-- Decodes and checks the shape; nil, reason when the file is not usable.
local function decode(text)
  local ok, doc = pcall(cjson.decode, text)
  if not ok then return nil, "not valid JSON: " .. tostring(doc) end
  if type(doc) ~= "table" then return nil, "not a JSON object" end
  if doc.version ~= M.VERSION then
    return nil, "unknown version " .. tostring(doc.version) .. " (expected " .. M.VERSION .. ")"
  end
  for _, k in ipairs { "files", "pending", "failures" } do
    if doc[k] == nil or doc[k] == cjson.null then doc[k] = {} end
    if type(doc[k]) ~= "table" then return nil, "field '" .. k .. "' is not an object" end
  end
  return doc
end

-- load(state_dir) -> state object; .rebuilt is set (with .reason) when the
-- file was missing or unusable and the caller must rebuild.
function M.load(state_dir, opts)
  opts = opts or {}
  local s = setmetatable({ dir = state_dir, path = fs.join(state_dir, "state.json"),
                           read_only = opts.read_only }, State)
  local text, rerr = fs.read(s.path)
  if not text then
    s.data = empty()
    s.rebuilt = true
    s.missing = fs.stat(s.path) == nil
    s.reason = s.missing and "no state file yet" or ("cannot read: " .. tostring(rerr))
    return s
  end
  local doc, derr = decode(text)
  if not doc then
    s.data = empty()
    s.rebuilt = true
    s.reason = derr
    return s
  end
  local packed = kv.new()
  for rel, e in pairs(doc.files) do
    if type(rel) == "string" and type(e) == "table" then packed:set(rel, cjson.encode(e)) end
  end
  doc.files = packed
  s.data = doc
  return s
end

-- Reads state.json without any intent to write it (kbsyncd status).
function M.read(state_dir) return M.load(state_dir, { read_only = true }) end

-- file(rel) -> a fresh copy of the entry, or nil
function State:file(rel)
  local text = self.data.files:get(rel)
  return text and cjson.decode(text) or nil
end
-- The files with an entry: rel -> true (entries through file(rel)).
function State:files()
  local out = {}
  for rel in self.data.files:pairs() do out[rel] = true end
  return out
end
function State:set_file(rel, entry) -- entry nil forgets the file
  self.data.files:set(rel, entry and cjson.encode(entry) or nil)
end
function State:is_pending(rel) return self.data.pending[rel] == true end
function State:set_pending(rel, on) self.data.pending[rel] = on and true or nil end
function State:pending() return self.data.pending end
function State:failure(rel) return self.data.failures[rel] end
function State:failures() return self.data.failures end
function State:set_failure(rel, f) self.data.failures[rel] = f end

-- The whole document as JSON text, the packed entries spliced in as
-- they are (sorted, so that equal states give equal files).
function State:encode()
  local files = self.data.files
  local rels = {}
  for rel in files:pairs() do rels[#rels + 1] = rel end
  table.sort(rels)
  local parts = {}
  for i, rel in ipairs(rels) do parts[i] = cjson.encode(rel) .. ":" .. files:get(rel) end
  local rest = {}
  for k, v in pairs(self.data) do if k ~= "files" then rest[k] = v end end
  local head = cjson.encode(rest)   -- {"version":1,"pending":{...},...}
  return head:sub(1, -2) .. ',"files":{' .. table.concat(parts, ",") .. "}}"
end

-- save() -> true | nil, err.  Failure is logged; the next save tries again.
function State:save()
  if self.read_only then return true end
  local ok, err = fs.mkdir_p(self.dir)
  if ok then ok, err = fs.write_atomic(self.path, self:encode(), tonumber("600", 8)) end
  if not ok then
    log.error("state_save_failed", { path = self.path, error = err,
      action = "check free space and permissions of state_dir; the daemon retries at the next change" })
    return nil, err
  end
  return true
end

return M
