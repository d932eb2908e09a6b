-- test_kv.lua - host.kv, the compact string maps behind the per-file records.
local t = require "tap"
local kv = require "host.kv"

local m = kv.new()
t.is(m:count(), 0, "a new map is empty")
t.is(m:get("a"), nil, "a missing key reads nil")
m:set("a/b.csv", '{"x":1}')
m:set("a/c.csv", "")
m:set("bin", "a\0b")
t.is(m:get("a/b.csv"), '{"x":1}', "set then get")
t.is(m:get("a/c.csv"), "", "an empty value is kept")
t.is(m:get("bin"), "a\0b", "bytes, NUL included")
t.is(#m, 3, "# is the count")
m:set("a/b.csv", "longer value than before")
t.is(m:get("a/b.csv"), "longer value than before", "replaced by a longer value")
m:set("a/b.csv", "short")
t.is(m:get("a/b.csv"), "short", "replaced by a shorter value")
m:set(42, 7)
t.is(m:get("42"), "7", "numbers are stored as their text")
m:set("bin", nil)
t.is(m:get("bin"), nil, "set(key, nil) deletes")
t.is(m:count(), 3, "and the count follows")
t.ok(not pcall(m.set, m, {}, "x"), "a table key is refused")
t.ok(not pcall(m.get, m), "get without a key is refused")

local big = kv.new()
for i = 1, 5000 do big:set("folder/" .. i .. ".csv", string.rep("v", i % 50)) end
local seen, bad = 0, 0
for k, v in big:pairs() do
  seen = seen + 1
  local i = tonumber(k:match("(%d+)%.csv$"))
  if v ~= string.rep("v", i % 50) then bad = bad + 1 end
  if i % 2 == 0 then big:set(k, nil) end -- deleting while iterating is allowed
end
t.ok(seen == 5000 and bad == 0, "pairs visits every entry once with its value")
t.is(big:count(), 2500, "entries deleted during pairs are gone")
t.is(big:get("folder/2.csv"), nil, "an even one is gone")
t.is(big:get("folder/3.csv"), "vvv", "an odd one stays")
t.ok(big:bytes() > 0 and kv.total_bytes() >= big:bytes() + m:bytes(), "bytes and total_bytes report the memory held")
local before = kv.total_bytes()
big = nil
collectgarbage()
collectgarbage()
t.ok(kv.total_bytes() < before, "a collected map gives its memory back (" .. before .. " -> " .. kv.total_bytes() .. ")")
t.done()
