-- test_sync_units.lua - the engine's pieces in isolation: header diff and
-- Keboola names, settling with two looks, the scheduler's coalescing and
-- parallelism limit, state round trips, reconcile decisions, ISO dates.
local t = require "tap"
local cjson = require "cjson"
local fs = require "host.fs"
local timer = require "host.timer"
local header = require "sync.header"
local settle = require "sync.settle"
local scheduler = require "sync.scheduler"
local state_mod = require "sync.state"
local reconcile = require "sync.reconcile"
local load = require "sync.load"

-- header ------------------------------------------------------------------
t.is(header.diff({ "a", "b" }, { "a", "b" }), nil, "equal headers: no diff")
local d = header.diff({ "a", "c" }, { "a", "b" })
t.is(d.missing, { "b" }, "missing column")
t.is(d.extra, { "c" }, "extra column")
t.is(d.reordered, false, "not a reorder")
d = header.diff({ "b", "a" }, { "a", "b" })
t.ok(d.reordered and #d.missing == 0 and #d.extra == 0, "reordered only")
t.like(header.describe(d, { "b", "a" }, { "a", "b" }), "reordered", "described")
t.ok(header.diff({ "A" }, { "a" }) ~= nil, "names compare case-sensitively")

local asked = 0
local cache = {}
local function webalize(list)
  asked = asked + 1
  local out = {}
  for i, n in ipairs(list) do out[i] = n == "čas" and "cas" or n end
  return out
end
local h = { raw = { "id", "čas" }, keboola = { "id", "_" }, webalize = { 2 } }
t.is(header.keboola_names(h, cache, webalize), { "id", "cas" }, "flagged names go to the server")
t.is(header.keboola_names(h, cache, webalize), { "id", "cas" }, "and are cached")
t.is(asked, 1, "one webalize call for two checks")
t.is(header.keboola_names({ raw = { "a b" }, keboola = { "a_b" }, webalize = {} }, {}, nil), { "a_b" },
  "ASCII names come from staging")

-- header: a difference in letter case only is named as such
d = header.diff({ "ID", "Name", "x" }, { "id", "name", "x" })
t.ok(d.case_only and not d.reordered, "case only: every missing name is an extra one but for case")
local text = header.describe(d, { "ID", "Name", "x" }, { "id", "name", "x" })
t.is(text, 'the header differs from the table only in letter case: file "ID","Name", table "id","name"; ' ..
  "Keboola matches names case-insensitively but keeps the table's spelling: rename the columns in the file " ..
  "to the table's spelling, or recreate the table", "case only: one sentence naming both spellings")
t.is(header.diff({ "ID", "title" }, { "id", "name" }).case_only, false, "a real rename is not case only")
t.is(header.diff({ "ID", "extra" }, { "id" }).case_only, false, "case plus a new column is not case only")
t.is(header.diff({ "b", "a" }, { "a", "b" }).case_only, false, "a reorder is not case only")
t.is(header.diff({ "A", "a" }, { "a", "b" }).case_only, false, "one extra name cannot stand for two missing ones")
t.like(header.describe(header.diff({ "a", "c" }, { "a", "b" }), { "a", "c" }, { "a", "b" }), "^missing=b extra=c$",
  "other differences keep missing=/extra=")

-- header: webalize answers 200 for anything; what cannot be a column is
-- refused before the upload, naming the column
local function answers(map)
  return function(list)
    local out = {}
    for i, n in ipairs(list) do out[i] = map[n] or n end
    return out
  end
end
local function refused_by(map, raw)
  local kb, wz = {}, {}
  for i, n in ipairs(raw) do
    kb[i] = n
    if n:find("[\128-\255]") then wz[#wz + 1] = i end
  end
  return header.keboola_names({ raw = raw, keboola = kb, webalize = wz }, {}, answers(map))
end
local names_, err = refused_by({ ["日本"] = "" }, { "id", "日本" })
t.ok(names_ == nil and err.event == "header_invalid" and err.kind == "permanent",
  "an empty transliteration is header_invalid, the file's fault")
t.like(tostring(err), 'column 2 "日本": Keboola\'s transliteration leaves nothing of it',
  "naming the column by position and raw name")
names_, err = refused_by({ ["ö" .. string.rep("x", 70)] = "o" .. string.rep("x", 70) },
  { "ö" .. string.rep("x", 70) })
t.like(tostring(err), "^column 1 .*longer than 64 characters", "an over-64-character result is refused")
names_, err = refused_by({ ["öid"] = "oid" }, { "a", "öid" })
t.like(tostring(err), 'column 2 "öid": .*"oid" is a reserved system column name', "a reserved result is refused")
names_, err = refused_by({ ["Čas"] = "Cas" }, { "cas", "Čas" })
t.like(tostring(err), 'column 2 "Čas": same name as column 1 "cas"', "a result equal to another column's")
names_, err = refused_by({ ["日本"] = "", ["öid"] = "oid" }, { "日本", "öid" })
t.ok(tostring(err):find("column 1", 1, true) and tostring(err):find("column 2", 1, true),
  "every refused column is listed: " .. tostring(err))
t.is(refused_by({ ["čas"] = "cas" }, { "id", "čas" }), { "id", "cas" }, "a good transliteration passes")
local wcache = {}
header.keboola_names({ raw = { "日本" }, keboola = { "日本" }, webalize = { 1 } }, wcache, answers({ ["日本"] = "" }))
names_, err = header.keboola_names({ raw = { "日本" }, keboola = { "日本" }, webalize = { 1 } }, wcache,
  function() error("not asked again") end)
t.ok(names_ == nil and err.event == "header_invalid", "a cached empty answer is refused too")
t.is(header.keboola_names({ raw = { "日本" }, keboola = { "日本" }, webalize = { 1 } }, {}, nil), { "日本" },
  "a dry run (no server) is not judged on names it did not ask for")
local werr = { kind = "retryable", message = "503" }
names_, err = header.keboola_names({ raw = { "日本" }, keboola = { "日本" }, webalize = { 1 } }, {},
  function() return nil, werr end)
t.ok(names_ == nil and err == werr and err.event == nil, "a failed webalize call stays webalize_failed")

-- settle --------------------------------------------------------------------
local clock = 0
local disk = {}
local s = settle.new { settle_ms = 100, now = function() return clock end,
  stat = function(rel) return disk[rel] end }
disk["f/a.csv"] = { type = "file", size = 1, mtime_ns = 1, ino = 1 }
s:touch("f/a.csv", disk["f/a.csv"])
t.is(#s:due(), 0, "not due before settle_ms")
clock = 100
disk["f/a.csv"] = { type = "file", size = 2, mtime_ns = 2, ino = 1 }
t.is(#s:due(), 0, "second look differs: not ready")
t.is(s:next_deadline(), 200, "deadline pushed back")
clock = 200
local ready = s:due()
t.is(#ready, 1, "two equal looks after the quiet time: ready")
t.is(s:count(), 0, "and no longer dirty")
s:touch("f/gone.csv", { type = "file", size = 1, mtime_ns = 1, ino = 2 })
clock = 400
local r2, gone = s:due()
t.is(#r2, 0, "a vanished file is not ready")
t.is(gone, { "f/gone.csv" }, "it is reported gone")
disk["f/b.csv"] = { type = "file", size = 1, mtime_ns = 1, ino = 3 }
s:touch("f/b.csv", disk["f/b.csv"])
disk["f/b.csv"] = { type = "file", size = 1, mtime_ns = 1, ino = 4 }
clock = 500
t.is(#s:due(), 0, "an atomic save (new inode) counts as a change")

-- scheduler (real tasks) ----------------------------------------------------
local runs, max_seen, live = {}, 0, 0
local sched
sched = scheduler.new { max_parallel = 2,
  worker = function(key)
    live = live + 1
    if live > max_seen then max_seen = live end
    runs[key] = (runs[key] or 0) + 1
    timer.sleep(30)
    live = live - 1
    if key == "boom" then error("worker bug") end
    return { status = "ok" }
  end,
  on_done = function() end }
sched:submit("a")
for _ = 1, 50 do sched:submit("a") end -- all while "a" runs
for _, k in ipairs { "b", "c", "d", "boom" } do sched:submit(k) end
local deadline = timer.now() + 5000
while not sched:idle() and timer.now() < deadline do timer.sleep(10) end
t.ok(sched:idle(), "the scheduler drains")
t.is(runs.a, 2, "51 submits of a running key make exactly 2 runs")
t.is(max_seen, 2, "never more than max_parallel at once")
t.is(runs.boom, 1, "a worker that raises ends only its own run")
local delayed_runs = 0
local s2 = scheduler.new { max_parallel = 1, worker = function() delayed_runs = delayed_runs + 1; return {} end }
s2:later("x", 20)
t.ok(not s2:idle(), "a delayed retry keeps the scheduler busy")
deadline = timer.now() + 2000
while not s2:idle() and timer.now() < deadline do timer.sleep(10) end
t.is(delayed_runs, 1, "the delayed retry ran once")
local s3 = scheduler.new { max_parallel = 1, worker = function() return {} end }
s3:pause(); s3:submit("p")
timer.sleep(20)
t.is(s3:counts().queued, 1, "paused: nothing starts")
s3:resume()
deadline = timer.now() + 2000
while not s3:idle() and timer.now() < deadline do timer.sleep(10) end
t.ok(s3:idle(), "resume starts the queued work")

-- state ---------------------------------------------------------------------
local dir = os.tmpname()
os.remove(dir)
fs.mkdir_p(dir)
local st = state_mod.load(dir)
t.ok(st.rebuilt and st.missing, "no file: a fresh state, marked missing")
local key = state_mod.stat_key { size = 10, mtime_ns = 1732870000123456789, ino = 987654321012 }
t.is(key, "10:1732870000123456789:987654321012", "stat key keeps every digit")
st:set_file("a/b.csv", { fingerprint = "10-abc", stat = key, table_id = "in.c-a.b" })
st:set_pending("a/c.csv", true)
t.ok(st:save(), "saved")
local again = state_mod.load(dir)
t.ok(not again.rebuilt, "read back")
t.is(again:file("a/b.csv").stat, key, "stat key survives JSON")
t.ok(again:is_pending("a/c.csv"), "pending work survives")
again:set_file("x/one.csv", { header = { "id", "name" }, columns = { "id", "name" }, rows = 2 })
again:set_file("x/two.csv", { header = { "id" }, columns = { "id" } })
t.is(again:file("x/one.csv"), { header = { "id", "name" }, columns = { "id", "name" }, rows = 2 },
  "an entry reads back as it was set")
local copy = again:file("x/one.csv")
copy.rows = 99
t.is(again:file("x/one.csv").rows, 2, "file() hands out a copy: changing it changes nothing")
t.is(again:files(), { ["a/b.csv"] = true, ["x/one.csv"] = true, ["x/two.csv"] = true }, "files(): the recorded names")
t.ok(again:save(), "saved with new entries")
local text = fs.read(dir .. "/state.json")
local doc = cjson.decode(text)
t.is(doc.files["x/one.csv"].columns, { "id", "name" }, "state.json holds the entries as JSON objects")
t.is(doc.files["a/b.csv"].stat, key, "and the entries read from the file before")
t.ok(doc.pending["a/c.csv"] == true and doc.version == 1, "pending and version beside them")
t.ok(text:find('"a\\/b.csv".*"x\\/one.csv".*"x\\/two.csv"'), "entries in name order")
again:set_file("x/two.csv", nil)
t.ok(again:file("x/two.csv") == nil, "set_file(rel, nil) forgets a file")
local f = io.open(dir .. "/state.json", "w"); f:write("{broken"); f:close()
local broken = state_mod.load(dir)
t.ok(broken.rebuilt and not broken.missing, "corrupt file: rebuilt")
t.like(broken.reason, "JSON", "with a reason")
f = io.open(dir .. "/state.json", "w"); f:write('{"version": 99}'); f:close()
t.like(state_mod.load(dir).reason, "version", "unknown version: rebuilt")
fs.remove(dir .. "/state.json")
fs.remove(dir .. "/state.json.tmp")
os.remove(dir)

-- reconcile decisions -------------------------------------------------------
local remote_mod = require "sync.remote"
local function remote_with(...)
  local r = remote_mod.new()
  for _, id in ipairs { ... } do r:put { id = id, columns = { "x" } } end
  return r
end
local fake = state_mod.load("/nonexistent-kbsyncd-test")
local stt = { size = 5, mtime_ns = 7, ino = 9 }
t.is(select(2, reconcile.needs_load(fake, remote_with(), "a/x.csv", stt)), "new", "unknown file: new")
fake:set_file("a/x.csv", { fingerprint = "5-x", stat = state_mod.stat_key(stt), table_id = "in.c-a.x" })
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", stt)), "unchanged", "same stat: unchanged")
t.is(select(2, reconcile.needs_load(fake, remote_with(), "a/x.csv", stt)), "table_missing_remotely", "table gone remotely: load")
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", { size = 6, mtime_ns = 7, ino = 9 })),
  "changed", "other size: changed")
fake:set_failure("a/x.csv", { stat = state_mod.stat_key { size = 6, mtime_ns = 7, ino = 9 } })
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", { size = 6, mtime_ns = 7, ino = 9 })),
  "failed_unchanged", "a failed file waits for a change")
local six = { size = 6, mtime_ns = 7, ino = 9 }
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", six, "repair:names=true")),
  "rules_changed", "unless the repairs in force differ from those it was refused under")
fake:set_failure("a/x.csv", { stat = state_mod.stat_key(six), rules = "repair:names=true" })
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", six, "repair:names=true")),
  "failed_unchanged", "the same repairs: it still waits")
t.is(select(2, reconcile.needs_load(fake, remote_with("in.c-a.x"), "a/x.csv", six, "")),
  "rules_changed", "repairs turned off: judged again too")
local repair = require "sync.repair"
t.is({ repair.rules({}), repair.rules { policy = { repair = { names = true, short_rows = "pad" } } },
       repair.rules { policy = { repair = { short_rows = "refuse", long_rows = "refuse" } } } },
  { "", "repair:names=true,short_rows=pad", "" }, "repair.rules: the repairs in force, \"\" for none")
fake:set_pending("a/x.csv", true)
t.is(select(2, reconcile.needs_load(fake, remote_with(), "a/x.csv", stt)), "pending", "pending work is always done")

-- remote tables ------------------------------------------------------------
local rt = remote_mod.new()
rt:put { id = "in.c-a.t1", columns = { "id", "name" }, rowsCount = 5, lastImportDate = "2026-11-29T10:00:00+0100",
         bucket = { id = "in.c-a" }, metadata = { { key = "k" } } }
rt:put { id = "in.c-a.t2", columns = { "id", "name" } }
rt:put { columns = { "no id" } }
t.ok(rt:has("in.c-a.t1") and rt:has("in.c-a.t2") and rt.columns:count() == 2,
  "remote: tables without an id are not kept")
t.is(rt:get("in.c-a.t1"), { id = "in.c-a.t1", columns = { "id", "name" }, rowsCount = 5,
  lastImportDate = "2026-11-29T10:00:00+0100" }, "remote: only id, columns and the last import are kept")
local got = rt:get("in.c-a.t1")
got.columns[1] = "changed"
t.is(rt:get("in.c-a.t1").columns, { "id", "name" }, "remote: get() hands out a copy")
rt:put { id = "in.c-a.t3" }
t.ok(rt:has("in.c-a.t3") and rt:get("in.c-a.t3").columns == nil, "remote: a table without columns exists, with none")
rt:drop("in.c-a.t3")
t.is(rt:get("in.c-a.t2"), { id = "in.c-a.t2", columns = { "id", "name" } }, "remote: no import facts, none made up")
rt:forget_imports(function(id) return id == "in.c-a.t1" end)
t.is(rt:get("in.c-a.t1").rowsCount, nil, "remote: forget_imports drops what the state makes redundant")
rt:put { id = "in.c-a.t2", columns = { "id" }, rowsCount = 0, lastImportDate = "2026-11-29T11:00:00+0100" }
t.is(rt:get("in.c-a.t2").rowsCount, 0, "remote: put replaces a table")
rt:loaded("in.c-a.t2")
t.ok(rt:get("in.c-a.t2").lastImportDate == nil and rt:has("in.c-a.t2"), "remote: loaded() keeps the table, drops its import facts")
rt:drop("in.c-a.t1")
t.ok(not rt:has("in.c-a.t1") and rt:get("in.c-a.t1") == nil and rt.columns:count() == 1, "remote: drop")

local slim = rt:put_bucket { id = "in.c-b", name = "c-b", stage = "in", displayName = "b",
                            created = "2026-11-29", metadata = { { key = "k" } } }
rt:put_bucket { id = "in.c-a", name = "c-a", stage = "in", displayName = "a" }
t.is(slim, { id = "in.c-b", name = "c-b", stage = "in", displayName = "b" }, "remote: put_bucket keeps what is read")
t.is(rt:buckets(), { { id = "in.c-a", name = "c-a", stage = "in", displayName = "a" }, slim },
  "remote: buckets() lists them by id")

-- folders: targets, collisions, ignore ------------------------------------
local folders_mod = require "sync.folders"
local policy_mod = require "policy"
local root = os.tmpname()
os.remove(root)
local function put(rel, text)
  fs.mkdir_p(root .. "/" .. (rel:match("^(.*)/[^/]+$") or ""))
  local fh = io.open(root .. "/" .. rel, "w"); fh:write(text); fh:close()
end
put("my data/a.csv", "x\n1\n")
put("my_data/b.csv", "x\n1\n")
put("ok/one.csv", "x\n1\n")
put("ok/One.csv", "x\n1\n")
put("ok/two.csv", "x\n1\n")
put("ok/.hidden.csv", "x\n")
put("ok/readme.md", "x\n")
put("top.csv", "x\n")
local cfg = { watch_dir = root, stage = "in", policy = {} }
local fo = folders_mod.new(cfg, policy_mod.new(cfg))
local changes = fo:rescan_all()
local files = fo:files()
t.ok(files["ok/two.csv"] and not files["ok/.hidden.csv"] and not files["ok/readme.md"],
  "candidates: CSVs only, hidden and other files left out")
t.is(files["ok/two.csv"], state_mod.stat_key(fs.stat(root .. "/ok/two.csv")), "a candidate is kept as its stat key")
t.is(fo:target("ok/two.csv"), { stage = "in", bucket = "ok", table = "two" }, "a plain file's target")
local tg, why, ev = fo:target("ok/one.csv")
t.ok(tg == nil and ev == "table_name_collision" and why:find("ok/One.csv", 1, true),
  "one.csv and One.csv collide (case-insensitive) and name each other")
tg, why, ev = fo:target("my data/a.csv")
t.ok(tg == nil and ev == "bucket_name_collision", "folders 'my data' and 'my_data' collide on bucket my_data")
local new_folders = 0
for _, c in ipairs(changes) do if c.kind == "new_folder" then new_folders = new_folders + 1 end end
t.is(new_folders, 3, "three new folders reported")
os.remove(root .. "/ok/One.csv")
local ch = fo:rescan_folder("ok")
local unblocked = false
for _, c in ipairs(ch) do if c.kind == "file" and c.rel == "ok/one.csv" then unblocked = true end end
t.ok(unblocked and fo:target("ok/one.csv"), "removing the partner unblocks the file and reports it as changed")
os.execute("rm -rf '" .. root .. "'")

-- dry-run client ------------------------------------------------------------
local dry = require "sync.dry"
local calls = {}
local fake_client = { list_buckets = function(self) calls[#calls + 1] = self; return {} end,
                      upload_file = function() return true end }
local dc = dry.wrap(fake_client)
t.is(dc:list_buckets(), {}, "reads pass through")
t.ok(calls[1] == fake_client, "with the real client as self")
t.ok(not pcall(dc.upload_file, dc, "x"), "writes raise in a dry run")

-- dates -----------------------------------------------------------------------
t.is(load.parse_iso("1970-01-01T00:00:00+0000"), 0, "epoch")
t.is(load.parse_iso("2024-02-29T12:34:56+0000"), 1709210096, "leap day")
t.is(load.parse_iso("2024-02-29T14:34:56+0200"), 1709210096, "offsets")
t.is(load.parse_iso("nope"), nil, "garbage")

-- back-off: one formula ---------------------------------------------------------
local backoff = require "lib.backoff"
local lo = function(m) return m end
local hi = function(_, n) return n end
local bcfg = { base_ms = 100, cap_ms = 1000 }
t.is(backoff.delay_ms(1, bcfg, lo), 50, "attempt 1: at least half the base")
t.is(backoff.delay_ms(1, bcfg, hi), 100, "attempt 1: at most the base")
t.is(backoff.delay_ms(3, bcfg, hi), 400, "doubles per attempt")
t.is(backoff.delay_ms(30, bcfg, hi), 1000, "capped")
t.is(backoff.delay_ms(30, bcfg, lo), 500, "never below half the cap once capped")

-- failure classes and outcome decisions --------------------------------------
local failure = require "sync.failure"
local outcome = require "sync.outcome"
t.is(failure.of_client_error({ kind = "retryable" }), "remote", "retryable client error: remote")
t.is(failure.of_client_error({ kind = "permanent", status = 403 }), "auth", "403: auth (permission)")
t.is(failure.of_client_error({ kind = "permanent", status = 400 }), "file", "other refusals: file")
t.is(failure.of_stage_code("io"), "machine", "I/O while staging: machine")
t.is(failure.of_stage_code("utf8"), "file", "encoding: file")
local facts = { once = false, attempt = 2, retry = bcfg, auth_recheck_s = 7, now_iso = "T", random = hi }
local dd = outcome.decide("a/x.csv", { status = "failed", class = "remote", event = "upload_failed",
  error = "e", stat = "1:2:3" }, facts)
t.is(dd.retry_in_ms, 200, "run: remote failure retried with the back-off of its attempt")
t.ok(dd.record == "failure" and dd.failure.class == "remote" and dd.pending == true,
  "recorded with its class, still owed")
t.is(dd.log.event, "load_retry", "logged as a retry")
dd = outcome.decide("a/x.csv", { status = "failed", class = "auth", event = "bucket_failed", error = "403",
  stat = "1:2:3" }, facts)
t.is(dd.retry_in_ms, 7000, "run: a refused permission is tried again after auth_recheck_s")
t.is(dd.log.level, "error", "first time: an ERROR")
dd = outcome.decide("a/x.csv", { status = "failed", class = "file", event = "csv_invalid", error = "bad",
  stat = "1:2:3" }, facts)
t.ok(dd.retry_in_ms == nil and dd.pending == false, "a file failure waits for the file to change")
facts.previous = { stat = "1:2:3", event = "csv_invalid" }
dd = outcome.decide("a/x.csv", { status = "failed", class = "file", event = "csv_invalid", error = "bad",
  stat = "1:2:3" }, facts)
t.is(dd.log, nil, "the same file version failing the same way is not logged again")
facts.previous, facts.once = nil, true
dd = outcome.decide("a/x.csv", { status = "failed", class = "remote", event = "upload_failed", error = "e",
  stat = "1:2:3" }, facts)
t.ok(dd.unreachable and dd.retry_in_ms == nil, "once: a remote failure (the client gave up) ends the run")
dd = outcome.decide("a/x.csv", { status = "ok", table_id = "in.c-a.x", stat = "1:2:3", changed_after = true }, facts)
t.ok(dd.record == "success" and dd.settle, "loaded, but changed meanwhile: recorded and settled again")
dd = outcome.decide("a/x.csv", { status = "cancelled" }, facts)
t.is(dd.pending, true, "a cancelled load stays owed")

-- reconcile: failures outside the file are retried without a change ----------
local fstate = { files = {}, failures = {}, pending = {} }
function fstate:is_pending(rel) return self.pending[rel] end
function fstate:failure(rel) return self.failures[rel] end
function fstate:file(rel) return self.files[rel] end
local sst = { size = 1, mtime_ns = 2, ino = 3 }
fstate.failures["a/x.csv"] = { class = "auth", stat = state_mod.stat_key(sst) }
t.is(select(2, reconcile.needs_load(fstate, nil, "a/x.csv", sst)), "retry_failed", "auth failure: retried")
fstate.failures["a/x.csv"] = { class = "file", stat = state_mod.stat_key(sst) }
t.is(select(2, reconcile.needs_load(fstate, nil, "a/x.csv", sst)), "failed_unchanged", "file failure: waits")
t.done()
