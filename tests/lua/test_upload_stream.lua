-- test_upload_stream.lua - common.stream_parts and sync.spool_feed with real
-- host tasks: parts of a file still being written go up only once their
-- bytes exist, at most `parallel` at a time; the count follows from the
-- final size; a writer that fails, or a part that fails, ends the upload.
local t = require "tap"
local task = require "host.task"
local timer = require "host.timer"
local common = require "keboola.upload.common"
local spool_feed = require "sync.spool_feed"

-- A stand-in for the stager: each call of grow() writes `by` more bytes.
local function writer(feed, path)
  local w = { bytes = 0 }
  function w.grow(by)
    w.bytes = w.bytes + by
    feed:update({ progress = function() return { path = path .. ".tmp", bytes = w.bytes, gzip = true } end })
  end
  return w
end

-- Runs stream_parts in a task; puts record what they were given and what
-- was on disk then, and last `put_ms` each. Returns the run's record.
local function start(feed, part, parallel, put_ms, fail_part)
  local run = { puts = {}, in_flight = 0, peak = 0 }
  task.spawn(function()
    run.ok, run.values, run.size = common.stream_parts(feed, part, parallel,
      function(n, path, offset, length)
        local have = feed:state()
        run.puts[#run.puts + 1] = { n = n, path = path, offset = offset, length = length,
                                   on_disk = have }
        run.in_flight = run.in_flight + 1
        run.peak = math.max(run.peak, run.in_flight)
        timer.sleep(put_ms)
        run.in_flight = run.in_flight - 1
        if n == fail_part then return nil, { code = "part.failed" } end
        return "etag" .. n
      end)
    run.done = true
  end)
  return run
end

local function wait(cond, ms)
  local t0 = timer.now()
  while not cond() and timer.now() - t0 < ms do timer.sleep(5) end
  return cond()
end

do -- parts go up as bytes appear; the final size sets the count
  local feed = spool_feed.new(100)
  local w = writer(feed, "/spool/a")
  local run = start(feed, 10, 2, 20)
  timer.sleep(30)
  t.is(#run.puts, 0, "no part before its bytes exist")
  w.grow(15)
  t.ok(wait(function() return #run.puts == 1 end, 1000), "part 1 once 15 bytes exist")
  timer.sleep(40)
  t.is(#run.puts, 1, "part 2 waits: only 5 of its 10 bytes exist")
  w.grow(30)
  t.ok(wait(function() return #run.puts >= 3 end, 1000), "parts 2 and 3 once 45 bytes exist")
  feed:finish("/spool/a", 47)
  t.ok(wait(function() return run.done end, 2000), "the upload ends once the file is complete")
  t.ok(run.ok, "and succeeds")
  t.is(run.size, 47, "with the final size")
  t.is(#run.values, 5, "five parts for 47 bytes in parts of 10")
  local bad = {}
  for _, p in ipairs(run.puts) do
    if p.offset + p.length > p.on_disk then bad[#bad + 1] = p.n end
  end
  t.is(bad, {}, "every part's bytes existed when it was sent")
  local last = run.puts[#run.puts]
  t.is({ last.n, last.offset, last.length }, { 5, 40, 7 }, "the last part is the rest")
  t.is(run.puts[1].path, "/spool/a.tmp", "parts before the end read the temporary name")
  t.is(last.path, "/spool/a", "parts after it the final one")
  t.ok(run.peak <= 2, "at most parallel = 2 in flight (" .. run.peak .. ")")
end

do -- parallel bound with many parts ready at once
  local feed = spool_feed.new(1000)
  local run = start(feed, 10, 3, 30)
  feed:finish("/spool/b", 95)
  t.ok(wait(function() return run.done end, 3000), "ten parts end")
  t.is({ run.ok, #run.values, run.peak }, { true, 10, 3 }, "ten parts, three at a time")
end

do -- an empty file is one empty part
  local feed = spool_feed.new(10)
  local run = start(feed, 10, 4, 1)
  feed:finish("/spool/c", 0)
  t.ok(wait(function() return run.done end, 1000), "an empty file ends")
  t.is({ run.ok, #run.puts, run.puts[1] and run.puts[1].length }, { true, 1, 0 }, "as one empty part")
end

do -- the writer fails: no new part, the error is the upload's
  local feed = spool_feed.new(100)
  local w = writer(feed, "/spool/d")
  local run = start(feed, 10, 2, 10)
  w.grow(12)
  t.ok(wait(function() return #run.puts == 1 end, 1000), "part 1 went up")
  feed:fail({ code = "upload.not_needed" })
  t.ok(wait(function() return run.done end, 1000), "a failed writer ends the upload")
  t.is({ run.ok, run.values and run.values.code }, { nil, "upload.not_needed" }, "with its error")
  t.is(#run.puts, 1, "and nothing more was sent")
end

do -- a part fails: the others stop, the error is the part's
  local feed = spool_feed.new(100)
  local run = start(feed, 10, 2, 10, 2)
  feed:finish("/spool/e", 80)
  t.ok(wait(function() return run.done end, 2000), "a failed part ends the upload")
  t.is({ run.ok, run.values and run.values.code }, { nil, "part.failed" }, "with the part's error")
  t.ok(#run.puts < 8, "no part started after the failure (" .. #run.puts .. " of 8 sent)")
end

do -- wait_for: returns once enough bytes exist, the file is complete, or the writer failed
  local feed = spool_feed.new(10)
  local got
  task.spawn(function() got = { common.wait_for(feed, 100) } end)
  timer.sleep(10)
  feed:update({ progress = function() return { path = "/spool/f.tmp", bytes = 50, gzip = true } end })
  timer.sleep(10)
  t.ok(got == nil, "wait_for(100) still waits with 50 bytes on disk")
  feed:finish("/spool/f", 60)
  t.ok(wait(function() return got end, 1000) and got[1] == 60 and got[2] == 60,
    "and returns the final size once the file is complete, though short of 100")
  local feed2 = spool_feed.new(10)
  local got2
  task.spawn(function() got2 = { common.wait_for(feed2, 100) } end)
  feed2:fail({ code = "x" })
  t.ok(wait(function() return got2 end, 1000) and got2[1] == nil and got2[2].code == "x",
    "or nil and the writer's error")
end

t.done()
