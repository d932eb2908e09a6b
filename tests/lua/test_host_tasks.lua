-- test_host_tasks.lua - tasks, timers, logging and fs as Lua sees them.
local t = require "tap"
local task = require "host.task"
local timer = require "host.timer"
local log = require "host.log"
local fs = require "host.fs"
local env = require "host.env"

local dir = os.tmpname(); os.remove(dir); assert(fs.mkdir_p(dir .. "/a/b"))
local logfile = dir .. "/k.log"
assert(log.configure { file = logfile, level = "debug", stderr = false })

-- A failing task is logged with its traceback and hurts nobody else.
local survivor_done = false
task.spawn(function() timer.sleep(30); survivor_done = true end)
task.spawn(function()
  local function inner() error("boom in a policy hook") end
  inner()
end)
local t0 = timer.now()
while not survivor_done and timer.now() - t0 < 2000 do timer.sleep(5) end
t.ok(survivor_done, "another task finished after one failed")
local text = fs.read(logfile)
t.like(text, "ERROR task_failed", "the failure is logged")
t.like(text, "boom in a policy hook", "with its message")
t.like(text, "stack traceback:.-in %a* ?%a* ?'?inner'?", "and a traceback naming the function")

-- sleep: ordering and accuracy (a lower bound only: machines are slow).
local order = {}
for _, ms in ipairs { 60, 20, 40 } do
  task.spawn(function() timer.sleep(ms); order[#order + 1] = ms end)
end
t0 = timer.now()
while #order < 3 and timer.now() - t0 < 2000 do timer.sleep(5) end
t.is(order, { 20, 40, 60 }, "sleeping tasks wake in deadline order")
t0 = timer.now(); timer.sleep(50)
t.ok(timer.now() - t0 >= 50, "sleep(50) waits at least 50 ms")

-- yield lets others run; arguments reach the task; ids are distinct.
local seen = {}
local id1 = task.spawn(function(a, b) seen[#seen + 1] = a + b end, 2, 3)
local id2 = task.spawn(function() task.yield(); seen[#seen + 1] = "after yield" end)
t.ok(id1 ~= id2 and task.id() ~= nil, "task ids")
timer.sleep(10)
t.is(seen, { 5, "after yield" }, "spawn passes arguments; yield resumes")

-- A bare coroutine.yield at a task's top level is a reschedule, not a hang.
local resumed = false
task.spawn(function() coroutine.yield(); resumed = true end)
timer.sleep(10)
t.ok(resumed, "coroutine.yield inside a task reschedules it")

-- User coroutines still work, and cannot wait on host calls.
local co = coroutine.wrap(function() local okc, e = pcall(timer.sleep, 1); coroutine.yield(okc, e) end)
local okc, e = co()
t.ok(okc == false and tostring(e):match("not inside a task"), "a host wait inside a user coroutine is refused")

-- A runaway task is stopped (slice limit) and others keep going.
local old = task.slice_limit(200)
local ticked = false
task.spawn(function() while true do end end)
task.spawn(function() ticked = true end)
timer.sleep(20)
t.ok(ticked, "the loop went on after a runaway task was stopped")
t.like(fs.read(logfile), "without yielding %(runaway loop%?%)", "the runaway task failed with a clear message")
task.slice_limit(old)
t.is(fs.join("/a/", "b"), "/a/b", "join does not double separators")
local rt = task.runtime()
t.ok(rt.memory > 0 and rt.tasks >= 1, "runtime reports memory and tasks")

-- Log fields: stable order, quoting, numbers, redaction.
log.redact("123-456-verysecretvalue")
log.info("fields_test", { zeta = 1, table = "in.c-a.b", file = "x y.csv", msg = "has 123-456-verysecretvalue inside" })
text = fs.read(logfile)
t.like(text, 'INFO  fields_test table=in.c%-a.b file="x y.csv" msg="has %*%*%* inside" zeta=1',
  "leading keys first, the rest sorted, secret redacted")
t.ok(log.enabled("debug") and not log.enabled("trace"), "enabled() follows the level")

-- fs helpers.
t.ok(fs.write_atomic(dir .. "/a/state.json", "{}"), "write_atomic")
t.is(fs.read(dir .. "/a/state.json"), "{}", "read back")
t.is(fs.stat(dir .. "/a").type, "dir", "stat type dir")
t.is(fs.stat(dir .. "/a/state.json").size, 2, "stat size")
local st, err = fs.stat(dir .. "/nope")
t.ok(st == nil and err:match("No such file"), "stat of a missing path")
t.is(fs.dirname("/a/b/c.csv"), "/a/b", "dirname"); t.is(fs.basename("/a/b/c.csv"), "c.csv", "basename")
t.is(fs.join("/a", "b", "c"), "/a/b/c", "join")
local names = fs.list(dir .. "/a"); table.sort(names)
t.is(names, { "b", "state.json" }, "list")
t.ok(fs.remove(dir .. "/a/state.json") and fs.remove(dir .. "/a/state.json"), "remove is idempotent")
t.ok(env.get("PATH") ~= nil and env.get("KBSYNCD_SURELY_UNSET") == nil, "env.get")

-- Events: a condition variable for tasks.
local function until_true(cond, ms) -- polls with a deadline, yielding
  local deadline = timer.now() + (ms or 2000)
  while not cond() and timer.now() < deadline do task.yield() end
  return cond()
end
local ev = task.event()
t.is(ev:waiting(), 0, "a new event has no waiter")
t.like(tostring(ev), "^host.task.event %(0 waiting%)$", "an event prints as such")
ev:notify()
t0 = timer.now()
local got = ev:wait(30)
t.ok(got == false and timer.now() - t0 >= 30,
  "a notify with no waiter is not remembered: a later wait(30) times out with false")
t.is(ev:waiting(), 0, "a timed-out wait leaves the event")

local woke = {}
for i = 1, 3 do task.spawn(function() local r = ev:wait(); woke[#woke + 1] = { i, r } end) end
t.ok(until_true(function() return ev:waiting() == 3 end), "three tasks wait without a timeout")
ev:notify()
t.is(ev:waiting(), 0, "notify takes every waiter off the event at once")
t.is(#woke, 0, "woken tasks resume in a later loop turn, not inside notify")
t.ok(until_true(function() return #woke == 3 end), "every waiter resumes")
t.is(woke, { { 1, true }, { 2, true }, { 3, true } }, "waiters resume oldest first, each with true")

local fast
task.spawn(function() fast = ev:wait(5000) end)
t.ok(until_true(function() return ev:waiting() == 1 end), "a task waits with a 5 s timeout")
t0 = timer.now(); ev:notify()
t.ok(until_true(function() return fast ~= nil end) and fast == true and timer.now() - t0 < 1000,
  "a wait with a timeout returns true as soon as it is notified")

local short, long
task.spawn(function() short = ev:wait(20) end)
task.spawn(function() long = ev:wait() end)
t.ok(until_true(function() return short ~= nil end) and short == false and ev:waiting() == 1,
  "a waiter that times out leaves; the other keeps waiting")
ev:notify()
t.ok(until_true(function() return long ~= nil end) and long == true, "the remaining waiter is notified")

-- notify never yields: it works where waiting is impossible.
local from = {}
local function waiter_for(name)
  task.spawn(function() if ev:wait(2000) then from[#from + 1] = name end end)
end
waiter_for("coroutine")
t.ok(until_true(function() return ev:waiting() == 1 end), "a waiter for a notify from a user coroutine")
coroutine.wrap(function() ev:notify() end)()
waiter_for("comparator")
t.ok(until_true(function() return #from == 1 and ev:waiting() == 1 end), "woken from a user coroutine")
table.sort({ 2, 1 }, function(a, b) ev:notify(); return a < b end)
waiter_for("gc")
t.ok(until_true(function() return #from == 2 and ev:waiting() == 1 end), "woken from a sort comparator")
setmetatable({}, { __gc = function() ev:notify() end }); collectgarbage(); collectgarbage()
t.ok(until_true(function() return #from == 3 end), "woken from a __gc metamethod")
t.is(from, { "coroutine", "comparator", "gc" }, "notify from code that is not a task wakes the waiter")

-- wait must be inside a task.
local okw, errw = coroutine.wrap(function() return pcall(ev.wait, ev, 10) end)()
t.ok(okw == false and tostring(errw):match("not inside a task"), "wait in a user coroutine is refused clearly")
okw, errw = pcall(table.sort, { 2, 1 }, function(a, b) ev:wait(1); return a < b end)
t.ok(okw == false and tostring(errw):match("not inside a task"), "wait in a sort comparator is refused clearly")
okw, errw = pcall(ev.wait, ev, -1)
t.ok(okw == false and tostring(errw):match("timeout_ms must be >= 0"), "a negative timeout is refused")
okw, errw = pcall(ev.wait, {}, 10)
t.ok(okw == false and tostring(errw):match("host.task.event expected"), "wait on something else is refused")

-- Left at exit on purpose: waits cancelled with the runtime (one with a
-- timer, one without) and wakes never resumed must leak nothing (ASan).
local left = task.event()
task.spawn(function() left:wait() end)
task.spawn(function() left:wait(60000) end)
local woken = task.event()
task.spawn(function() woken:wait(60000) end)
t.ok(until_true(function() return left:waiting() == 2 and woken:waiting() == 1 end), "waits left pending at exit")
woken:notify()

os.execute("rm -rf " .. dir)
t.done()
