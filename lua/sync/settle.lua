-- sync/settle.lua - the dirty set: a file is handed on only when it has
-- been quiet for settle_ms AND two looks at it (the one that made it dirty
-- and one at the deadline) saw the same size, mtime and inode.
--
-- A slow copy keeps changing size, an editor's atomic save replaces the
-- inode: both simply push the deadline back.  Pure bookkeeping, no yields:
-- the engine's watcher task calls due() when next_deadline() has passed.
local stat_key = require("sync.state").stat_key

local M = {}

local Settle = {}
Settle.__index = Settle

-- opts: {settle_ms, now = fn() -> ms, stat = fn(rel) -> st | nil}
function M.new(opts)
  return setmetatable({ settle_ms = opts.settle_ms, now = opts.now, stat = opts.stat,
                        dirty = {}, n = 0 }, Settle)
end

-- a and b: stat tables of regular files, or their stat keys
local function same(a, b)
  return a ~= nil and b ~= nil and stat_key(a) == stat_key(b)
end
M.same = same

-- An event (or a scan difference) for rel, with what the scan saw (a stat
-- table or its key).  quiet_ms: how long the file is known to have been
-- unchanged already (its mtime's age at start-up); the quiet time still
-- to wait shrinks by that much, the second look stays.
function Settle:touch(rel, st, quiet_ms)
  local d = self.dirty[rel]
  if not d then self.n = self.n + 1 end
  local wait = self.settle_ms - math.max(0, math.min(quiet_ms or 0, self.settle_ms))
  self.dirty[rel] = { st = st, deadline = self.now() + math.floor(wait) }
end

function Settle:forget(rel)
  if self.dirty[rel] then self.n = self.n - 1; self.dirty[rel] = nil end
end

function Settle:count() return self.n end
function Settle:has(rel) return self.dirty[rel] ~= nil end

-- Earliest deadline (monotonic ms) or nil when nothing is dirty.
function Settle:next_deadline()
  local best
  for _, d in pairs(self.dirty) do
    if not best or d.deadline < best then best = d.deadline end
  end
  return best
end

-- The files whose deadline passed and whose second look agrees:
-- a list of {rel = , st = }.  Files that vanished are dropped and listed
-- in the second return value.
function Settle:due()
  local now = self.now()
  local ready, gone = {}, {}
  for rel, d in pairs(self.dirty) do
    if d.deadline <= now then
      local st = self.stat(rel)
      if not st then
        gone[#gone + 1] = rel
      elseif same(st, d.st) then
        ready[#ready + 1] = { rel = rel, st = st }
      else
        d.st = st
        d.deadline = now + self.settle_ms
      end
    end
  end
  for _, r in ipairs(ready) do self:forget(r.rel) end
  for _, rel in ipairs(gone) do self:forget(rel) end
  table.sort(ready, function(a, b) return a.rel < b.rel end)
  return ready, gone
end

return M
