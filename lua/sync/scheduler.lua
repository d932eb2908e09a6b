-- sync/scheduler.lua - who loads what, when.
--
--   * at most one task per key (a file, hence a table) at a time;
--   * a submit while that key's task runs sets "again": exactly one more
--     run follows, however many submits came in (coalescing);
--   * at most max_parallel tasks overall, FIFO otherwise;
--   * pause()/resume() hold every start (401: the token was refused);
--   * later(key, ms) resubmits after a delay (back-off), counted so that
--     `once` knows work is still owed; the delay is the engine's wait, which
--     ends early when the daemon stops;
--   * every finished run notifies `changed` (host.task event): the engine
--     waits on it instead of polling.
-- The worker runs inside its own host task under xpcall: a bug or a policy
-- error ends that run with status "failed", never the daemon.
local task = require "host.task"

local M = {}

local Scheduler = {}
Scheduler.__index = Scheduler

-- opts: {max_parallel, worker = fn(key) -> outcome, on_done = fn(key, outcome),
--        on_start = fn(key)?, wait = fn(ms) -> true when interrupted,
--        changed = a host.task event to notify (else its own)}
function M.new(opts)
  return setmetatable({
    max = opts.max_parallel, worker = opts.worker, on_done = opts.on_done,
    on_start = opts.on_start, wait = opts.wait or require("host.timer").sleep,
    changed = opts.changed or task.event(),
    queue = {}, head = 1, tail = 0, queued = {}, running = {}, again = {},
    nrunning = 0, delayed = {}, ndelayed = 0, paused = false, closed = false,
  }, Scheduler)
end

function Scheduler:is_running(key) return self.running[key] == true end
function Scheduler:is_queued(key) return self.queued[key] == true end

-- Nothing queued, running or waiting for a retry.
function Scheduler:idle()
  return self.nrunning == 0 and self.head > self.tail and self.ndelayed == 0
end

function Scheduler:counts()
  return { running = self.nrunning, queued = self.tail - self.head + 1, delayed = self.ndelayed }
end

-- Every key that still has work owed (queued, running, coalesced, delayed).
function Scheduler:owed()
  local out = {}
  for k in pairs(self.queued) do out[k] = true end
  for k in pairs(self.running) do out[k] = true end
  for k in pairs(self.again) do out[k] = true end
  for k in pairs(self.delayed) do out[k] = true end
  return out
end

function Scheduler:submit(key, front)
  if self.running[key] then self.again[key] = true; return end
  if self.queued[key] then return end
  self.queued[key] = true
  if front then
    self.head = self.head - 1
    self.queue[self.head] = key
  else
    self.tail = self.tail + 1
    self.queue[self.tail] = key
  end
  self:pump()
end

local function traceback(e) return debug.traceback(tostring(e), 2) end

function Scheduler:run_one(key)
  local ok, outcome = xpcall(self.worker, traceback, key)
  if not ok then
    outcome = { status = "failed", kind = "bug", event = "load_crashed", error = outcome,
      action = "report this as a bug with the log line; the file is tried again when it changes" }
  end
  self.running[key] = nil
  self.nrunning = self.nrunning - 1
  if self.on_done then
    local cok, cerr = xpcall(self.on_done, traceback, key, outcome)
    if not cok then require("host.log").error("scheduler_callback_failed", { error = cerr,
      action = "report this as a bug with the log line" }) end
  end
  if self.again[key] then
    self.again[key] = nil
    if not self.closed then self:submit(key) end
  end
  self:pump()
  self.changed:notify()
end

function Scheduler:pump()
  while not self.paused and not self.closed and self.nrunning < self.max
      and self.head <= self.tail do
    local key = self.queue[self.head]
    self.queue[self.head] = nil
    self.head = self.head + 1
    self.queued[key] = nil
    self.running[key] = true
    self.nrunning = self.nrunning + 1
    task.spawn(self.run_one, self, key)
    if self.on_start then self.on_start(key) end
  end
end

-- Resubmit key after ms (a retry with back-off).  A submit in between
-- (the file changed) does not cancel it: the second run then finds nothing
-- to do, which costs a stat and a fingerprint comparison at most.
function Scheduler:later(key, ms)
  if self.delayed[key] then return end
  self.delayed[key] = true
  self.ndelayed = self.ndelayed + 1
  task.spawn(function()
    self.wait(ms)
    self.delayed[key] = nil
    self.ndelayed = self.ndelayed - 1
    if not self.closed then self:submit(key) end
    self.changed:notify()
  end)
end

function Scheduler:pause() self.paused = true end
function Scheduler:resume() self.paused = false; self:pump() end

-- Start nothing new from now on (stop/reload).
function Scheduler:close() self.closed = true end

return M
