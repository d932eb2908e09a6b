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

-- target_for_path and hooks
local cfg = { watch_dir = "/w", stage = "in", policy = {} }
local p = policy.new(cfg)
t.is(p:target_for_path("/w/sales/orders.csv"), { stage = "in", bucket = "sales", table = "orders" }, "target of a file")
t.is(p:target_for_path("/w/orders.csv"), nil, "a root file has no target")
t.like(select(2, p:target_for_path("/w/orders.csv")), "sub%-folder", "and the reason says what to do")
t.like(select(2, p:target_for_path("/w/a/b/c.csv")), "deeper", "deeper folders are not synced")
t.like(select(2, p:target_for_path("/w/a/notes.txt")), "ignored", "ignored file reason")
t.is(p:target_for_path("/elsewhere/sales/x.csv").table, "x", "a path outside the root uses its parent folder")

local custom = policy.new({ watch_dir = "/w", stage = "in", policy = {
  table = function(file) if file.name == "bad.csv" then error("kaput") end return "T_" .. file.name:sub(1, 1) end,
  bucket = function(folder) return "B_" .. folder end,
} })
t.is(custom:target_for_path("/w/s/x.csv"), { stage = "in", bucket = "B_s", table = "T_x" }, "hooks from cfg.policy win")
local tgt, why = custom:target_for_path("/w/s/bad.csv")
t.is(tgt, nil, "a raising hook gives no target")
t.like(why, "kaput", "its message is kept")
t.like(why, "traceback", "with a traceback")
t.ok(custom:is_custom("table") and not custom:is_custom("ignore"), "is_custom tells overridden hooks")
local ok, err = custom:call("table", { name = "bad.csv" })
t.ok(not ok and err:find("kaput"), "call() returns false, message instead of raising")
t.is(policy.defaults.on_header_change(), "skip", "header changes are skipped by default")
t.is(policy.defaults.should_load(), true, "should_load defaults to true")
t.is(policy.defaults.columns(nil, { "a" }), { "a" }, "columns keeps names by default")
t.done()
