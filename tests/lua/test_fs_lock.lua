-- test_fs_lock.lua - host.fs.lock / lock_holder: one holder per lock file,
-- the holder's pid beside it, released by unlock, __close and __gc.
local t = require "tap"
local fs = require "host.fs"

local dir = os.tmpname(); os.remove(dir); assert(fs.mkdir_p(dir))
local path = dir .. "/kbsyncd.lock"

-- Our own pid, from the kernel (not from the file under test).
local function my_pid()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("n"); f:close()
  return pid
end
local pid = my_pid()

t.is(fs.lock_holder(path), nil, "no file: no holder")

local lk, err = fs.lock(path)
t.ok(lk ~= nil, "the first lock is taken", err)
t.like(tostring(lk), "^host.fs.lock %(held%)$", "a lock prints as held")
local text = fs.read(path)
t.like(text, "^%d+\n$", "the file holds a pid and a newline")
local written = tonumber(text:match("^(%d+)"))
if pid then t.is(written, pid, "the pid written is this process's")
else t.skip("the pid written is this process's", "no /proc") end
local mode = fs.stat(path).mode -- 0644 less the umask
t.ok(mode | 420 == 420 and mode & 384 == 384, "the lock file is created with mode 0644 (less the umask)", mode)

local again, why, holder = fs.lock(path)
t.ok(again == nil and why == "locked", "a second lock of the same file, same process, is refused", why)
t.is(holder, written, "and names the holder's pid")
t.is(fs.lock_holder(path), written, "lock_holder names the holder's pid")

-- A holder whose pid cannot be read is still a holder.
local f = assert(io.open(path, "w")); f:write("not a pid"); f:close()
t.is(fs.lock_holder(path), true, "held with no readable pid: lock_holder is true")
again, why, holder = fs.lock(path)
t.ok(again == nil and why == "locked" and holder == nil, "and a second lock is refused with no pid")

lk:unlock()
t.like(tostring(lk), "%(released%)", "unlock releases")
t.ok(pcall(lk.unlock, lk) and tostring(lk):match("%(released%)"), "unlock twice does no harm")
t.is(fs.lock_holder(path), nil, "released: no holder")
t.ok(fs.stat(path) ~= nil, "the file stays after unlock")

-- A stale file (a pid, no lock: its process was killed) never blocks.
f = assert(io.open(path, "w")); f:write("999999\n"); f:close()
t.is(fs.lock_holder(path), nil, "a stale pid without a lock is no holder")
local lk2 = fs.lock(path)
t.ok(lk2 ~= nil, "a stale lock file is taken over")
t.is(tonumber(fs.read(path):match("^(%d+)")), written, "and gets this process's pid")
lk2 = nil
collectgarbage(); collectgarbage()
t.is(fs.lock_holder(path), nil, "a collected lock is released")

do
  local lk3 <close> = assert(fs.lock(path))
  t.is(fs.lock_holder(path), written, "held inside a block")
end
t.is(fs.lock_holder(path), nil, "a to-be-closed lock is released at the end of its block")

-- Other errors: nil and a message that says what and where.
local none, msg, third = fs.lock(dir .. "/missing/kbsyncd.lock")
t.ok(none == nil and msg:match("missing/kbsyncd.lock") and msg:match("No such file") and third == nil,
  "a lock in a missing folder fails with the path and the reason", msg)
none, msg = fs.lock(dir)
t.ok(none == nil and msg:match("Is a directory"), "a folder cannot be a lock file", msg)
t.is(fs.lock_holder(dir .. "/missing/kbsyncd.lock"), nil, "no holder for a path that does not exist")

os.execute("rm -rf " .. dir)
t.done()
