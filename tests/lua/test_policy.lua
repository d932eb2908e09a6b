-- test_policy.lua - the name mapping rule, the default ignore rules,
-- target_for_path and the isolation of hook errors.
local t = require "tap"
local names = require "sync.names"
local policy = require "policy"

-- names: the one rule
t.is(names.table_name("orders.csv"), "orders", "extension dropped")
t.is(names.table_name("Orders 2024 (final).CSV"), "Orders_2024_final", "runs of other characters become one _, trimmed")
t.is(names.table_name("sales-eu_v2.csv"), "sales-eu_v2", "dash and underscore kept")
t.is(names.table_name("Přehled.csv"), "P_ehled", "non-ASCII bytes become _")
t.is(#names.table_name(string.rep("x", 200) .. ".csv"), 96, "tables cut to 96")
t.is(#names.bucket_name(string.rep("b", 200)), 94, "buckets cut to 94")
t.is(names.table_name("___.csv"), nil, "nothing usable -> nil")
t.like(select(2, names.table_name("___.csv")), "no letters", "with a reason")
t.is(names.bucket_name("my data"), "my_data", "folder mapped by the same rule")
local c = names.collisions({ ["a b.csv"] = "a_b", ["a_b.csv"] = "a_b", ["c.csv"] = "c" })
t.is(c["a b.csv"], { "a_b.csv" }, "collision names the other file")
t.is(c["a_b.csv"], { "a b.csv" }, "both sides are reported")
t.is(c["c.csv"], nil, "no collision for a unique name")
t.ok(next(names.collisions({ A = "Sales", B = "sales" })) ~= nil, "collisions ignore case")

-- default ignore rules
local ig = policy.defaults.ignore
t.ok(not ig("sales/orders.csv"), "a CSV is not ignored")
t.ok(not ig("sales/ORDERS.CSV"), "the extension is case-insensitive")
t.ok(ig("sales/notes.txt"), "non-CSV ignored")
t.ok(ig("sales/.orders.csv"), "hidden file ignored")
t.ok(ig(".git/x.csv"), "file in a hidden folder ignored")
t.ok(ig(".hidden"), "hidden folder ignored")
t.ok(not ig("sales"), "a plain folder is not ignored")
for _, n in ipairs { "~$orders.csv", "orders.csv~", "#orders.csv#", ".#orders.csv", "orders.csv.swp",
                     "orders.csv.tmp", "orders.csv.part", "orders.csv.crdownload", ".~lock.orders.csv#" } do
  t.ok(ig("sales/" .. n), "temp/lock file ignored: " .. n)
end

-- default ignore reasons: they complete "ignored: ..." in `kbsyncd inspect`
t.like(select(2, ig("sales/orders.tsv")), "not a CSV", "a .tsv: not a CSV file, said so")
t.like(select(2, ig("sales/.orders.csv")), "hidden", "a hidden file: said so")
t.like(select(2, ig("sales/orders.csv~")), "temporary", "a backup copy: said so")

-- route: the one rule for where an entry goes or why it is ignored
local route = require "sync.route"
local fs = require "host.fs"
local plain = policy.new({ watch_dir = "/w", stage = "in", policy = {} })
local function routed(rel, kind) return { route.entry(plain, rel, kind or "file") } end
t.is(routed("sales/orders.csv"), { "sales", "orders.csv" }, "route: <folder>/<file>.csv is a candidate")
t.is(routed("orders.csv")[3], "root_file_ignored", "route: a root file is ignored")
t.like(routed("orders.csv")[2], "sub%-folder", "and the reason says what to do")
t.is(routed("a/b/c.csv")[3], "folder_ignored", "route: deeper files are ignored")
t.like(routed("a/b/c.csv")[2], "deeper", "with the reason")
t.is(routed("a/b", "dir")[3], "folder_ignored", "route: a folder inside a sub-folder is too deep")
t.is(routed("sales", "dir"), { "sales" }, "route: a sub-folder of the root is wanted")
t.is(routed(".git", "dir")[3], "folder_ignored", "route: a hidden sub-folder is not")
t.is(routed(".git/x.csv")[3], "folder_ignored", "route: nor the files in it")
t.is(routed("sales/x.csv", "symlink")[3], "entry_skipped", "route: a symlink is skipped")
t.is(routed("sales/x.tsv")[3], "file_ignored", "route: a .tsv is ignored")
t.like(routed("sales/x.tsv")[2], "not a CSV", "route: because it is not a CSV")
t.is(({ route.bucket(plain, "___") })[3], "bucket_name_invalid", "route: a folder name that maps to nothing")
t.is(({ route.table(plain, "/w", "s/___.csv") })[3], "table_name_invalid", "route: a file name that maps to nothing")
t.is(route.rel_of("/w", "/w/s/x.csv"), "s/x.csv", "rel_of: inside")
t.is(route.rel_of("/w", "/wx/s/x.csv"), nil, "rel_of: a sibling with the same prefix is outside")
t.is(route.rel_of("/", "/s/x.csv"), "s/x.csv", "rel_of: the root folder /")
t.is(route.rel_of(nil, "/s/x.csv"), nil, "rel_of: no watched folder")

-- target_for_path: the engine's own scan (sync.folders over sync.route)
local root = os.tmpname()
os.remove(root)
local function put(rel)
  fs.mkdir_p(root .. "/" .. (rel:match("^(.*)/[^/]+$") or ""))
  local fh = assert(io.open(root .. "/" .. rel, "w")); fh:write("id\n1\n"); fh:close()
end
for _, rel in ipairs { "sales/orders.csv", "orders.csv", "a/b/c.csv", "a/notes.txt", "s/x.csv", "s/bad.csv",
                       "dup/one.csv", "dup/One.csv", "ign/x.csv" } do put(rel) end
local cfg = { watch_dir = root, stage = "in", policy = {} }
local p = policy.new(cfg)
t.is(p:target_for_path(root .. "/sales/orders.csv"), { stage = "in", bucket = "sales", table = "orders" },
  "target of a file")
t.is(p:target_for_path(root .. "/orders.csv"), nil, "a root file has no target")
t.like(select(2, p:target_for_path(root .. "/orders.csv")), "sub%-folder", "and the reason says what to do")
t.like(select(2, p:target_for_path(root .. "/a/b/c.csv")), "deeper", "deeper folders are not synced")
t.like(select(2, p:target_for_path(root .. "/a/notes.txt")), "not a CSV", "a file that is not a CSV")
local tg, why, ev = p:target_for_path(root .. "/dup/one.csv")
t.ok(tg == nil and ev == "table_name_collision" and why:find("dup/One.csv", 1, true),
  "a name collision blocks the file, as in the engine: " .. tostring(why))
t.like(select(2, p:target_for_path(root .. "/sales/gone.csv")), "no such file", "a file that is not there")
local outside = p:target_for_path("/elsewhere/sales/x.csv")
t.ok(outside and outside.table == "x" and outside.bucket == "sales" and outside.assumed == root .. "/sales/x.csv",
  "a path outside the root is judged at <watch_dir>/<its folder>/<its name>")
local slashed = policy.new({ watch_dir = root .. "/", stage = "in", policy = {} })
t.is(slashed:target_for_path(root .. "/orders.csv"), nil,
  "a watch_dir with a trailing slash still sees a root file as a root file")
t.is(policy.new({ watch_dir = root .. "/gone", stage = "in", policy = {} }):target_for_path(root .. "/gone/s/x.csv"),
  nil, "a watched folder that is not there: no target")

local custom = policy.new({ watch_dir = root, stage = "in", policy = {
  table = function(file) if file.name == "bad.csv" then error("kaput") end return "T_" .. file.name:sub(1, 1) end,
  bucket = function(folder) return "B_" .. folder end,
  ignore = function(path) if path == "ign/x.csv" then error("ignore broke") end return false end,
} })
t.is(custom:target_for_path(root .. "/s/x.csv"), { stage = "in", bucket = "B_s", table = "T_x" },
  "hooks from cfg.policy win")
tg, why, ev = custom:target_for_path(root .. "/s/bad.csv")
t.is(tg, nil, "a raising hook gives no target")
t.like(why, "policy.table failed: .*kaput", "its message is kept, naming the hook")
t.is(ev, "policy_failed", "and the file is blocked as policy_failed")
t.like(select(2, custom:target_for_path(root .. "/ign/x.csv")), "policy.ignore failed: .*ignore broke",
  "a raising ignore hook is the reason too")

-- inspect's verdict: the engine's rule, then the file's contents
local inspect = require "inspect"
local cjson = require "cjson"
local EXIT = require "daemon_exit"
local function write(rel, text)
  fs.mkdir_p(root .. "/" .. (rel:match("^(.*)/[^/]+$") or ""))
  local fh = assert(io.open(root .. "/" .. rel, "w")); fh:write(text); fh:close()
  return root .. "/" .. rel
end
local function verdict(pol, path)
  local out, err = { buf = {} }, { buf = {} }
  function out:write(...) for _, v in ipairs { ... } do self.buf[#self.buf + 1] = v end end
  err.write = out.write
  local code = inspect.run(path, { json = true, cfg = pol.cfg,
    target = function(x) return pol:target_for_path(x) end, out = out, err = err })
  return code, cjson.decode(table.concat(out.buf)), table.concat(err.buf)
end
local code, j, err = verdict(p, root .. "/sales/orders.csv")
t.ok(code == EXIT.ok and j.verdict.load == true and j.verdict.reason == "loaded as it is into in / sales / orders"
  and err == "", "inspect: a good CSV in a sub-folder: load, exit 0")
code, j, err = verdict(p, root .. "/orders.csv")
t.ok(code == EXIT.failed and j.verdict.load == false and j.target == cjson.null, "inspect: a root CSV: exit 1")
t.like(j.verdict.reason, "^ignored: directly in the watched folder", "with the reason in words")
t.like(err, "ignored: directly in the watched folder", "on stderr too")
code, j = verdict(p, root .. "/a/b/c.csv")
t.ok(code == EXIT.failed and j.verdict.reason:find("deeper", 1, true), "inspect: a too-deep CSV: exit 1, said so")
code, j = verdict(p, write("sales/data.tsv", "id\tname\n1\tx\n"))
t.ok(code == EXIT.failed and j.verdict.reason:find("not a CSV", 1, true), "inspect: a .tsv: exit 1, not a CSV")
code, j = verdict(p, write("sales/___.csv", "id\n1\n"))
t.ok(code == EXIT.failed and j.verdict.reason:find("no letters or digits", 1, true),
  "inspect: a name that maps to nothing: exit 1, said so")
code, j = verdict(custom, root .. "/s/bad.csv")
t.ok(code == EXIT.failed and j.verdict.reason:find("^blocked %(policy_failed%): policy.table failed: .*kaput"),
  "inspect: a policy hook that raises: exit 1 naming the hook: " .. j.verdict.reason)
code, j = verdict(p, root .. "/dup/one.csv")
t.ok(code == EXIT.failed and j.verdict.reason:find("table_name_collision", 1, true),
  "inspect: a name collision: exit 1, blocked")
code, j = verdict(p, write("sales/open.csv", 'a,b\n"1","ok"\n"2","x\n"3","y"\n4,5\n'))
t.ok(code == EXIT.failed and j.verdict.reason:find("^refused: ") and j.verdict.reason:find("line 3", 1, true),
  "inspect: a quote never closed is refused with its line: " .. j.verdict.reason)
code, j = verdict(p, write("sales/dup.csv", "a,b,a\n1,2,3\n"))
t.ok(code == EXIT.failed and j.verdict.reason:find('column 3 "a"', 1, true), "inspect: a header problem is refused, naming the column")
code, j = verdict(p, "/elsewhere/sales/x.csv")
t.ok(code == EXIT.failed and j.verdict.reason:find("^refused: "), "inspect: a file that cannot be read is refused")
local elsewhere = os.tmpname()
os.remove(elsewhere)
fs.mkdir_p(elsewhere .. "/sales")
local fh = assert(io.open(elsewhere .. "/sales/x.csv", "w")); fh:write("id\n1\n"); fh:close()
code, j = verdict(p, elsewhere .. "/sales/x.csv")
t.ok(code == EXIT.ok and j.target.assumed == root .. "/sales/x.csv" and j.verdict.reason:find("outside the watched folder", 1, true),
  "inspect: a file outside the watched folder is judged where it would go, and says so")
os.execute("rm -rf '" .. elsewhere .. "'")

-- watch_dir is normalised where the config is loaded
local config = require "config"
local cfgfile = root .. "/config.lua"
fh = assert(io.open(cfgfile, "w")); fh:write("return { watch_dir = " .. string.format("%q", root .. "//") .. " }\n"); fh:close()
local loaded = assert(config.load { path = cfgfile })
t.is(loaded.watch_dir, root, "config: a trailing slash on watch_dir is removed")
code, j = verdict(policy.new(loaded), root .. "/orders.csv")
t.ok(code == EXIT.failed and j.verdict.reason:find("directly in the watched folder", 1, true),
  "so a root file is not mapped to a bucket")
os.execute("rm -rf '" .. root .. "'")
t.ok(custom:is_custom("table") and not plain:is_custom("table"), "is_custom tells overridden hooks")
local ok, err = custom:call("table", { name = "bad.csv" })
t.ok(not ok and err:find("kaput"), "call() returns false, message instead of raising")
t.is(policy.defaults.on_header_change(), "skip", "header changes are skipped by default")
t.is(policy.defaults.should_load(), true, "should_load defaults to true")
t.is(policy.defaults.columns(nil, { "a" }), { "a" }, "columns keeps names by default")
t.done()
