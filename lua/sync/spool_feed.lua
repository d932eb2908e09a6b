-- sync/spool_feed.lua - the spool staging is still writing, offered to the
-- upload as a source (keboola.upload.common), so a large gzipped file goes
-- up part by part while the rest is still read and compressed: its time to
-- table approaches the larger of staging and upload, not their sum.
--
-- The stager's loop calls feed:update(stager) after every step and
-- feed:finish(path, size) or feed:fail(err) at the end; the upload's part
-- workers wait on the feed's event, never poll. Only bytes the stager has
-- written are read (the spool is only ever appended to), so nothing is
-- sent that could still change. Whether the file is loaded is decided
-- later, with the complete result (sync.load): an upload may end unused,
-- a load of a file staging refused never happens.
local task = require "host.task"

local Feed = {}
Feed.__index = Feed

local M = {}

-- new(estimate): estimate is an upper bound of the spool's final size.
function M.new(estimate)
  return setmetatable({ estimate = estimate, bytes = 0, ev = task.event() }, Feed)
end

-- The upload's side (keboola.upload.common's source).
function Feed:state()
  if self.err then return nil, self.err end
  return self.bytes, self.final
end

function Feed:changed() self.ev:wait() end

function Feed:path() return self.where end

-- The stager's side.
function Feed:update(stager)
  local p = stager:progress()
  if p and not self.final then
    self.where, self.bytes = p.path, p.bytes
    self.ev:notify()
  end
end

function Feed:finish(path, size)
  self.where, self.bytes, self.final = path, size, size
  self.ev:notify()
end

-- err: a client-style error table (code, message) the upload returns.
function Feed:fail(err)
  if self.err then return end
  self.err = err
  self.ev:notify()
end

return M
