-- Checks for host.csv, host.stage and lua/inspect.lua, run by
-- tests/c/test_stage_lua.c, which provides ok(cond, description).
local csv = require "host.csv"
local stage = require "host.stage"
local cjson = require "cjson"
local inspect = require "inspect"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
local function file(name, content)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- host.csv.sanitize
local name, webalize = csv.sanitize("_abc-def----ghi_")
ok(name == "abc_def_ghi" and webalize == false, "sanitize: ASCII name")
name, webalize = csv.sanitize("název")
ok(name == "název" and webalize == true, "sanitize: non-ASCII needs webalize")
ok(not pcall(csv.sanitize), "sanitize: a missing name raises")

-- host.csv.sniff
local semi = file("semi.csv", "\239\187\191id;Price (EUR);note\r\n1;3,5;\"a;b\"\r\n2;4,25;x\r\n")
local d, h = csv.sniff(semi)
ok(d.delimiter == ";" and d.enclosure == '"' and d.escapedBy == "" and
   d.lineTerminator == "\r\n" and d.bom == true, "sniff: dialect")
ok(#h.raw == 3 and h.raw[2] == "Price (EUR)" and h.keboola[2] == "Price_EUR" and
   #h.errors == 0 and h.complete, "sniff: header")
local nd, err = csv.sniff(dir .. "/missing.csv")
ok(nd == nil and err.code == "io" and err.message:find("missing.csv"), "sniff: io error table")
nd, err = csv.sniff(file("empty.csv", ""))
ok(nd == nil and err.code == "empty", "sniff: empty file")
d = csv.sniff(file("tilde.csv", "a~b\n1~2\n"), { delimiters = ",;~" })
ok(d.delimiter == "~", "sniff: delimiters option")

-- host.stage: copy
local spool = dir .. "/spool.csv"
local s = assert(stage.open { src = semi, spool = spool })
local steps, done, serr = 0, false, nil
repeat
  done, serr = s:step(16)
  steps = steps + 1
until done ~= false
ok(done == true and serr == nil, "stage: done")
local r = s:result()
ok(r.rows == 2 and r.spool == spool and r.spool_bytes == #read(spool) and not r.gzip and
   not r.normalize and not r.unstable, "stage: result basics")
ok(read(spool) == "id;Price (EUR);note\r\n1;3,5;\"a;b\"\r\n2;4,25;x\r\n", "stage: BOM stripped")
ok(r.upload.delimiter == ";" and r.upload.enclosure == '"' and r.upload.escapedBy == "",
   "stage: upload dialect")
ok(r.fingerprint:match("^%d+%-%x%x%x%x%x%x%x%x$") and r.fingerprint:find("^" .. r.size .. "%-"),
   "stage: fingerprint " .. r.fingerprint)
ok(r.encoding.valid and r.encoding.error == nil, "stage: encoding")
ok(r.header.raw[1] == "id" and r.header.keboola[2] == "Price_EUR" and #r.header.webalize == 0,
   "stage: header")
s:close()
s:close()
ok(not pcall(s.step, s), "stage: a closed stager raises on step")

-- header replacement, gzip
s = assert(stage.open { src = semi, spool = spool .. ".gz", gzip_threshold = 1, gzip_level = 1,
                        header = { "id", "price", "note" } })
repeat done = s:step() until done ~= false
r = s:result()
ok(r.gzip and r.header.keboola[2] == "price" and r.header.raw[2] == "Price (EUR)",
   "stage: header replacement and gzip")
local gz = io.popen("gunzip -c " .. spool .. ".gz")
ok(gz:read("a") == "id;price;note\r\n1;3,5;\"a;b\"\r\n2;4,25;x\r\n", "stage: gunzip gives the spool")
gz:close()
s:close()

-- errors as tables
s = assert(stage.open { src = file("bad.csv", "a,b\n1,\255\n"), spool = spool .. ".bad" })
done, serr = s:step()
ok(done == nil and serr.code == "utf8" and serr.line == 2 and serr.column == 3 and serr.offset == 6,
   "stage: utf8 error table")
ok(read(spool .. ".bad") == nil, "stage: no spool after an error")
ok(s:result().encoding.valid == false, "stage: result after an error")
s:close()
local none, oerr = stage.open { src = dir .. "/nope.csv" }
ok(none == nil and oerr.code == "io", "stage: open of a missing file returns an error table")
ok(not pcall(stage.open, {}), "stage: src is required")
ok(not pcall(stage.open, { src = semi, gzip_level = 12 }), "stage: gzip_level is checked")

-- __close and __gc remove an unfinished spool
do
  local big = {}
  for i = 1, 40000 do big[#big + 1] = i .. ",some text here\n" end
  local src = file("big.csv", "id,text\n" .. table.concat(big))
  do
    local st <close> = assert(stage.open { src = src, spool = spool .. ".part", sample_bytes = 4096 })
    ok(st:step(1) == false, "stage: more to do after a small step")
  end
  local ls = io.popen("ls " .. dir):read("a")
  ok(not ls:find("%.tmp%."), "stage: __close removed the temporary spool")
  stage.open { src = src, spool = spool .. ".gc", sample_bytes = 4096 }:step(1)
  collectgarbage()
  collectgarbage()
  ls = io.popen("ls " .. dir):read("a")
  ok(not ls:find("%.tmp%."), "stage: __gc removed the temporary spool")
end

-- inspect
local function target(path) return { stage = "in", bucket = "in.c-test", table = "semi" } end
local desc = inspect.describe(semi, {}, target)
ok(desc.loadable and desc.target.table == "semi" and #desc.problems == 0, "inspect: describe")
local json = inspect._to_json(desc)
local j = cjson.decode(json)
ok(j.file == semi and j.size == desc.size and j.encoding.valid == true and
   j.encoding.error == cjson.null and j.dialect.delimiter == ";" and j.dialect.bom == true and
   j.header.raw[3] == "note" and j.rows == 2 and j.gzip == false and j.normalize == false and
   j.target.bucket == "in.c-test", "inspect: json fields")
ok(json:find('"errors":[]', 1, true) and json:find('"encoding":{"valid":true,"error":null}', 1, true),
   "inspect: empty arrays are [] and null is null: " .. json)
ok(json:find('^{"file":') and json:find('"target":{"stage":"in"', 1, true), "inspect: key order")

local bad = file("latin1.csv", "n\233m,x\n1,2\n3\n")
local sink = { buf = {} }
function sink:write(...) for _, v in ipairs { ... } do self.buf[#self.buf + 1] = v end end
local errs = { buf = {} }
errs.write = sink.write
local code = inspect.run(bad, { json = true, out = sink, err = errs })
local out = table.concat(sink.buf)
local jb = cjson.decode(out)
ok(code == 1 and jb.encoding.valid == false and jb.encoding.error.offset == 1 and
   jb.target == cjson.null, "inspect: invalid UTF-8 exits 1 with the error")
ok(select(2, out:gsub("\n", "")) == 1, "inspect: exactly one JSON line")
ok(table.concat(errs.buf):find("not valid UTF%-8"), "inspect: the reason goes to stderr")
ok(utf8.len(out) ~= nil, "inspect: output is valid UTF-8 even for a Latin-1 header")

sink.buf = {}
code = inspect.run(file("dup.csv", "a b,a_b,\n1,2,3\n"), { out = sink, err = errs })
out = table.concat(sink.buf)
ok(code == 1 and out:find("header column 2") and out:find("header column 3") and
   out:find("cannot be loaded"), "inspect: header problems in the summary")
sink.buf = {}
code = inspect.run(file("empty2.csv", ""), { json = true, out = sink, err = errs })
jb = cjson.decode(table.concat(sink.buf))
ok(code == 1 and jb.rows == 0 and jb.header.raw and #jb.header.raw == 0 and
   table.concat(sink.buf):find('"raw":[]', 1, true), "inspect: empty file")

os.execute("rm -rf " .. dir)
