-- test_watch.lua - host.watch from Lua, inside a task: scan and scan_folder
-- results, wait() returning the right folders, timeouts, overflow
-- injection, one waiter at a time, close while waiting, misuse errors.
-- Runs each watcher check on the default backend and on poll.
local t = require "tap"
local loaded, watch = pcall(require, "host.watch")
t.ok(loaded, "host.watch is registered in this binary")
if not loaded then
  print("# " .. tostring(watch):gsub("\n", "\n# "))
  t.done()
  return
end
local task = require "host.task"
local timer = require "host.timer"
local fs = require "host.fs"

local DEADLINE_MS = 5000

local root = os.tmpname()
os.remove(root)
assert(fs.mkdir_p(root .. "/sales"))
assert(fs.mkdir_p(root .. "/hr"))

local function write(rel, data, mode)
  local f = assert(io.open(root .. "/" .. rel, mode or "w"))
  f:write(data)
  f:close()
end

-- Keep taking events until every wanted folder was reported dirty (and an
-- overflow, when asked), or the deadline passes.  Returns the set seen.
local function wait_for(w, want, want_overflow)
  local seen, overflow = {}, false
  local deadline = timer.now() + DEADLINE_MS
  while true do
    local done = not want_overflow or overflow
    for _, f in ipairs(want) do done = done and seen[f] end
    if done then return seen, overflow end
    local left = deadline - timer.now()
    if left <= 0 then return seen, overflow end
    for _, e in ipairs(w:wait(left)) do
      if e.type == "dirty" then seen[e.folder] = true end
      if e.type == "overflow" then overflow = true end
    end
  end
end

-- Drop what the setup caused, until the watcher has been quiet a while.
local function quiesce(w)
  local deadline = timer.now() + 2000
  while timer.now() < deadline and #w:wait(100) > 0 do end
end

---------------------------------------------------------------- scanning
write("sales/orders.csv", "id\n1\n")
write("sales/.hidden.csv", "x\n")
write("sales/line\nbreak.csv", "a\n")
write("stray.csv", "x\n")
os.execute("ln -s orders.csv '" .. root .. "/sales/link.csv'")
os.execute("ln -s sales '" .. root .. "/linked'")

local r = watch.scan(root)
t.ok(r and r.folders.sales and r.folders.hr, "scan lists the sub-folders")
local e = r.folders.sales.entries["orders.csv"]
t.is(e and e.type, "file", "a CSV is a file")
t.is(e and e.size, 5, "with its size")
t.is(math.type(e and e.mtime_ns), "integer", "mtime_ns is an integer")
t.ok(e and e.mtime_ns > 1e18, "in nanoseconds")
t.ok(e and e.ino and e.dev and e.mode, "ino, dev and mode are there")
t.ok(r.folders.sales.entries[".hidden.csv"], "hidden files are reported")
t.ok(r.folders.sales.entries["line\nbreak.csv"], "a name with a newline survives")
t.is(r.folders.sales.entries["link.csv"].type, "symlink", "symlinks are not followed")
t.is(r.folders.sales.error, nil, "no error for a readable folder")
t.is(r.root_files["stray.csv"] and r.root_files["stray.csv"].type, "file",
  "files in the root are in root_files")
t.is(r.root_files.linked and r.root_files.linked.type, "symlink",
  "a symlinked folder is a symlink in root_files, not a folder")
t.is(r.folders.linked, nil, "and not listed as a folder")

local entries = watch.scan_folder(root, "sales")
t.ok(entries and entries["orders.csv"] and entries["orders.csv"].size == 5,
  "scan_folder lists one folder")
local top = watch.scan_folder(root, "")
t.is(top and top.sales and top.sales.type, "dir", 'scan_folder(root, "") lists the root')
local none, err, code = watch.scan_folder(root, "nope")
t.ok(none == nil and err:find("No such file") and type(code) == "number",
  "a missing folder is nil, message, errno")
t.ok(not pcall(watch.scan_folder, root, "a/b"), "a name with / is refused")
local nr, rerr = watch.scan(root .. "/nonexistent")
t.ok(nr == nil and rerr:find("No such file"), "a missing root is nil, message")

---------------------------------------------------------------- open errors
t.ok(not pcall(watch.open, { root = root, bakend = "poll" }), "unknown option raises")
t.ok(not pcall(watch.open, { root = root, backend = "kqueue" }), "unknown backend raises")
t.ok(not pcall(watch.open, { root = root, interval_ms = 0 }), "interval_ms 0 raises")
local nw, werr = watch.open { root = root .. "/nonexistent" }
t.ok(nw == nil and werr:find("No such file"), "missing root: nil, message")

---------------------------------------------------------------- watching
local function check_backend(backend)
  local w = assert(watch.open { root = root, backend = backend, interval_ms = 20 })
  local name = w:backend()
  if backend == "poll" then
    t.is(name, "poll", "poll backend as asked")
  else
    t.ok(name == "inotify" or name == "poll", "auto picks " .. name)
  end

  quiesce(w)
  local ev = w:wait(0)
  t.is(#ev, 0, name .. ": wait(0) returns an empty array at once")
  local t0 = timer.now()
  ev = w:wait(150)
  t.ok(#ev == 0 and timer.now() - t0 >= 140, name .. ": wait(150) times out empty")

  write("sales/orders.csv", "2\n", "a")
  local seen = wait_for(w, { "sales" })
  t.ok(seen.sales, name .. ": a change in sales reports sales")
  t.ok(not seen.hr, name .. ": and not hr")

  fs.mkdir_p(root .. "/fresh")
  write("fresh/new.csv", "a\n")
  seen = wait_for(w, { "fresh", "" })
  t.ok(seen.fresh and seen[""], name .. ': a new folder reports it and the root ("")')

  quiesce(w)
  w:inject_overflow()
  local _, overflow = wait_for(w, {}, true)
  t.ok(overflow, name .. ": inject_overflow gives an overflow event")
  t.is(w:stats().overflows, 1, name .. ": and counts it")
  local st = w:stats()
  t.ok(math.type(st.watches) == "integer" and math.type(st.polled_folders) == "integer",
    name .. ": stats has watches and polled_folders")

  -- One waiter at a time; the first still gets its events.
  quiesce(w)
  local got
  task.spawn(function() got = w:wait(DEADLINE_MS) end)
  timer.sleep(10) -- let it start waiting
  local ok, msg = pcall(w.wait, w, 10)
  t.ok(not ok and tostring(msg):find("already waiting"), name .. ": a second waiter raises")
  write("hr/people.csv", "n\n")
  local deadline = timer.now() + DEADLINE_MS
  while not got and timer.now() < deadline do timer.sleep(10) end
  t.ok(got and #got > 0 and got[1].folder == "hr", name .. ": the first waiter got hr")

  -- Closing while another task waits wakes it with nil, message.
  local res, rmsg
  task.spawn(function() res, rmsg = w:wait() end)
  timer.sleep(10)
  w:close()
  deadline = timer.now() + DEADLINE_MS
  while not rmsg and timer.now() < deadline do timer.sleep(10) end
  t.ok(res == nil and rmsg and rmsg:find("closed"),
    name .. ": close wakes a waiter with nil, message")
  local closed_again, close_err = pcall(w.close, w)
  t.ok(closed_again, name .. ": close is idempotent (a second close does not raise)")
  if not closed_again then t.diag(tostring(close_err)) end
  t.ok(not pcall(w.wait, w, 0), name .. ": wait on a closed watcher raises")
  os.execute("rm -rf '" .. root .. "/fresh'")
end

check_backend("auto")
check_backend("poll")

do
  local w <close> = assert(watch.open { root = root })
  local ok, msg = pcall(table.sort, { 2, 1 }, function(a, b)
    w:wait(0)
    return a < b
  end)
  t.ok(not ok and tostring(msg):find("not inside a task"),
    "wait where the caller cannot yield raises")
end

-- A task still waiting when the script ends is cancelled by the runtime,
-- then its watcher is collected: the sanitizer run checks that this path
-- (cancel, then __gc) touches nothing freed.
local left = assert(watch.open { root = root, backend = "poll", interval_ms = 20 })
local started, woke = false, false
task.spawn(function()
  started = true
  left:wait()
  woke = true
end)
timer.sleep(30)
t.ok(started and not woke, "a task is left waiting on a watcher at exit")

os.execute("rm -rf '" .. root .. "'")
t.done()
