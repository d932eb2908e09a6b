-- test_host_http.lua - host.http inside the loop: requests from many tasks
-- overlap, a timer keeps its schedule meanwhile, a server that never
-- answers times out without holding up anything else, bodies stream from
-- file ranges and can go to files, and errors come back as nil, "class: ...".
local t = require "tap"
local http = require "host.http"
local task = require "host.task"
local timer = require "host.timer"
local fs = require "host.fs"

local dir = fs.dirname(debug.getinfo(1, "S").source:sub(2))

local portfile = os.tmpname()
local server = io.popen("python3 " .. dir .. "/helpers/slow_httpd.py > " .. portfile, "w")
local deadline = timer.now() + 10000
local port
repeat
  local f = io.open(portfile)
  if f then port = tonumber(f:read("l")); f:close() end
  if not port then timer.sleep(20) end
until port or timer.now() > deadline
t.ok(port, "test server started")
local base = "http://127.0.0.1:" .. port

-- 20 tasks, each a request that takes 500 ms on the server.
local N, DELAY = 20, 500
local done, results = 0, {}
local started = timer.now()
for i = 1, N do
  task.spawn(function()
    local status, headers, body = http.request { url = base .. "/delay?ms=" .. DELAY }
    results[i] = { status = status, headers = headers, body = body, at = timer.now() - started }
    done = done + 1
  end)
end
-- Meanwhile a 50 ms ticker: its ticks must keep coming on time.
local ticks, late = 0, 0
local last = timer.now()
while done < N and timer.now() - started < 15000 do
  timer.sleep(50)
  local now = timer.now()
  if now - last > 200 then late = late + 1 end
  last = now
  ticks = ticks + 1
end
local elapsed = timer.now() - started
t.is(done, N, "all 20 requests finished")
t.ok(elapsed < N * DELAY / 2, "they overlapped: " .. elapsed .. " ms for " .. N .. " x " .. DELAY .. " ms")
t.ok(ticks >= 5 and late == 0, "the timer kept firing on schedule (" .. ticks .. " ticks, " .. late .. " late)")
local all_ok = true
for i = 1, N do
  local r = results[i]
  if not r or r.status ~= 200 or r.body ~= "ok " .. DELAY or r.headers["x-delay"] ~= tostring(DELAY) then
    all_ok = false
  end
end
t.ok(all_ok, "every answer has status, lower-cased headers and body")

-- A server that never answers: times out, while another request completes.
local hang_result, hang_err, quick_status, quick_at
local t0 = timer.now()
task.spawn(function()
  hang_result, hang_err = http.request { url = base .. "/hang", timeout_ms = 800 }
end)
task.spawn(function()
  quick_status = http.request { url = base .. "/delay?ms=10" }
  quick_at = timer.now() - t0
end)
while hang_err == nil and timer.now() - t0 < 5000 do timer.sleep(20) end
t.ok(hang_result == nil and hang_err and hang_err:match("^timeout:"), "hung server -> timeout error: " .. tostring(hang_err))
t.ok(quick_status == 200 and quick_at < 700, "another request was not held up (" .. tostring(quick_at) .. " ms)")

-- Body streamed from a byte range of a file.
local path = os.tmpname()
local f = assert(io.open(path, "wb"))
f:write(string.rep("0123456789", 100000)) -- 1,000,000 bytes
f:close()
local st, _, body = http.request { method = "PUT", url = base .. "/echo", body_file = path,
  body_offset = 10, body_length = 500000 }
t.is(st, 200, "PUT from a file range answered")
local n, crc, method = body:match("^(%d+) (%x+) (%u+)$")
t.is(tonumber(n), 500000, "the server received exactly the range length")
-- CRC-32 (zlib's) of what the range holds: bytes 10 .. 500009, i.e. the
-- 10-byte pattern 50,000 times; a shifted or corrupted range differs.
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = c ~ s:byte(i)
    for _ = 1, 8 do c = (c >> 1) ~ (0xEDB88320 & -(c & 1)) end
  end
  return string.format("%08x", c ~ 0xFFFFFFFF)
end
t.is(crc, crc32(string.rep("0123456789", 50000)), "the server received exactly the range's bytes")
t.is(method, "PUT", "method kept")
st, _, body = http.request { method = "POST", url = base .. "/echo", body = "hello" }
t.is(body and body:match("^(%d+)"), "5", "POST body from memory")

-- Response to a file; capped in-memory bodies.
local out = os.tmpname()
st, _, body = http.request { url = base .. "/big?bytes=300000", response_file = out }
t.ok(st == 200 and body == "" and fs.stat(out).size == 300000, "response body written to a file")
local r, err = http.request { url = base .. "/big?bytes=300000", max_body = 1000 }
t.ok(r == nil and err:match("^body_too_large:"), "over max_body -> body_too_large")

-- No limit is set unless passed (the defaults live in lua/defaults.lua):
-- a body over 16 MiB comes back whole without max_body, and a stalled
-- server is given up after low_speed_time_s with no timeout_ms at all.
st, _, body = http.request { url = base .. "/big?bytes=17000000" }
t.ok(st == 200 and #body == 17000000, "without max_body the body is not capped (17 MB)")
t0 = timer.now()
r, err = http.request { url = base .. "/hang", low_speed_time_s = 1 }
t.ok(r == nil and err:match("^timeout:") and timer.now() - t0 < 5000,
  "low_speed_time_s alone ends a stalled transfer: " .. tostring(err))
for _, case in ipairs {
  { { url = base, timeout_ms = -1 }, "timeout_ms must be an integer >= 0" },
  { { url = base, connect_timeout_ms = 1.5 }, "connect_timeout_ms must be an integer >= 0" },
  { { url = base, max_body = "big" }, "max_body must be an integer >= 0" },
  { { url = base, ca_bundle = {} }, "ca_bundle must be a string" },
  { { url = base, headers = { ["X-On"] = true } }, "headers must map names to strings or numbers" },
  { { url = base, connect_to = "x:1:y:2" }, "connect_to must be a list of strings" },
  { { url = base, connect_to = { 7 } }, "connect_to must be a list of strings" },
} do
  local okr, e = pcall(http.request, case[1])
  t.ok(not okr and tostring(e):find(case[2], 1, true), "bad option raises: " .. case[2], e)
end
st, _, body = http.request { method = "POST", url = base .. "/echo", body = "12345",
  headers = { ["X-Number"] = 7, ["X-Empty"] = "" } }
t.is(st, 200, "a request with a number and an empty header value goes through")

-- connect_to: a name that resolves nowhere (.invalid) is served by the
-- test server, the URL (Host, port) unchanged; without it, a dns error.
local fake = "http://kbsyncd-test.invalid:81/delay?ms=1"
st, _, body = http.request { url = fake, connect_to = { "kbsyncd-test.invalid:81:127.0.0.1:" .. port } }
t.ok(st == 200 and body == "ok 1", "connect_to sends a request for a name to another host:port")
r, err = http.request { url = fake, timeout_ms = 5000 }
t.ok(r == nil and err:match("^dns:"), "without connect_to the name does not resolve: " .. tostring(err))

-- Connection refused and a malformed URL.
r, err = http.request { url = "http://127.0.0.1:1/", timeout_ms = 2000 }
t.ok(r == nil and err:match("^connect:"), "refused -> connect error: " .. tostring(err))
r, err = http.request { url = "nota://url" }
t.ok(r == nil and err:match("^invalid:"), "bad scheme -> invalid: " .. tostring(err))

-- Must be called from a task: a table.sort comparator cannot yield.
local okc, cerr = pcall(table.sort, { 2, 1 }, function(a, b)
  http.request { url = base .. "/delay?ms=1" }
  return a < b
end)
t.ok(not okc and tostring(cerr):match("not inside a task"), "yielding outside a task is refused")

t.ok(http.async_dns(), "libcurl resolves names asynchronously")

server:close()
os.remove(path); os.remove(out); os.remove(portfile)
t.done()
