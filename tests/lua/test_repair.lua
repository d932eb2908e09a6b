-- test_repair.lua - policy.repair as config (defaults off, bad values
-- refused with a clear line), as host.stage options, and its summary
-- (bounded for a file with thousands of renamed columns).
local t = require "tap"
local fs = require "host.fs"
local stage = require "host.stage"
local config = require "config"
local repair = require "sync.repair"

local dir = os.tmpname(); os.remove(dir); assert(fs.mkdir_p(dir))
local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close()
  return dir .. "/" .. name
end
local function load(text)
  return config.load { path = write("config.lua", text), cwd = dir }
end

-- defaults: everything off, and off means no stage options at all
local cfg = assert(load("return { watch_dir = '.' }\n"))
t.is(cfg.policy.repair, { names = false, short_rows = "refuse", long_rows = "refuse",
  preamble = false, no_header = false }, "policy.repair defaults: every repair off")
t.is(repair.options(cfg), nil, "no repair asked: staging gets no repair option")
cfg = assert(load("return { watch_dir = '.', policy = { repair = { names = true, short_rows = 'pad' } } }\n"))
t.is(repair.options(cfg), { names = true, short_rows = "pad", long_rows = "refuse",
  preamble = false, no_header = false }, "one line enables names and padding")

-- bad config: one clear line, naming file, line and key
local bad = {
  { "return { watch_dir = '.',\n  policy = { repair = { short_rows = 'zero' } } }\n",
    "config%.lua:2: 'policy%.repair%.short_rows' must be one of refuse, pad, got 'zero'", "bad short_rows value" },
  { "return { watch_dir = '.',\n  policy = { repair = { long_rows = 'join' } } }\n",
    "'policy%.repair%.long_rows' must be one of refuse, last_column, got 'join'", "bad long_rows value" },
  { "return { watch_dir = '.',\n  policy = { repair = { name = true } } }\n",
    "config%.lua:2: unknown key 'policy%.repair%.name' %(allowed: long_rows, names, no_header, preamble, short_rows%)",
    "unknown repair key" },
  { "return { watch_dir = '.', policy = { repair = { names = 'yes' } } }\n",
    "'policy%.repair%.names' must be a boolean", "names must be a boolean" },
  { "return { watch_dir = '.', policy = { repair = true } }\n",
    "'policy%.repair' must be a table, got boolean", "repair must be a table" },
}
for _, b in ipairs(bad) do
  local c, err = load(b[1])
  t.ok(c == nil and type(err) == "string" and err:match(b[2]) and not err:find("\n"), b[3] .. ": " .. tostring(err))
end

-- host.stage.open refuses what config.lua would never pass
local src = write("in.csv", ",b\n1,2\n3\n")
local ok, err = pcall(stage.open, { src = src, repair = { bogus = true } })
t.ok(not ok and tostring(err):match("unknown repair 'bogus'"), "host.stage.open: unknown repair raises")
ok, err = pcall(stage.open, { src = src, repair = { short_rows = "zero" } })
t.ok(not ok and tostring(err):match("short_rows must be"), "host.stage.open: bad short_rows raises")

-- the result carries what was repaired
local s = assert(stage.open { src = src, repair = { names = true, short_rows = "pad" } })
repeat local done = s:step() until done ~= false
local r = s:result(); s:close()
t.ok(r.repair and r.repair.padded == 1 and r.repair.first_padded_line == 3 and r.record_errors_total == 0,
  "result.repair: 1 row padded on line 3, no record errors")
t.is(r.repair.names, { { column = 1, from = "", to = "column_1" } }, "result.repair.names: from and to")
t.is(r.header.raw, { "", "b" }, "header.raw stays the file's")
t.is(r.header.keboola, { "column_1", "b" }, "header.keboola is the repaired header")
s = assert(stage.open { src = src })
repeat local done = s:step() until done ~= false
r = s:result(); s:close()
t.ok(r.repair == nil and r.record_errors_total == 1 and r.record_errors[1].line == 3,
  "without repair: no repair field, the short row refused at line 3")

-- the summary: one bounded line however many names changed
local names = {}
for i = 1, 5000 do names[i] = { column = i, from = string.rep("x", 200), to = "column_" .. i } end
local sum = repair.summary { padded = 2, first_padded_line = 7, joined = 0, preamble_lines = 3, names = names }
t.ok(sum and sum.fields.names_changed == 5000 and #sum.fields.names < 1000 and
  sum.fields.names:find("... 4990 more", 1, true), "5000 renamed names: the line stays short (" ..
  (sum and #sum.fields.names or 0) .. " bytes)")
t.ok(sum.fields.padded == 2 and sum.fields.preamble_lines == 3 and #sum.lines == 3,
  "padded and preamble are reported, with words for inspect")
t.is(repair.summary { padded = 0, joined = 0, preamble_lines = 0, names = {} }, nil,
  "nothing repaired: no summary (no log line)")

os.execute("rm -rf '" .. dir .. "'")
t.done()
