-- tap.lua - a tiny Test Anything Protocol helper for Lua tests.
--
--   local t = require "tap"
--   t.ok(cond, "what holds")
--   t.is(got, want, "equal (deep for tables)")
--   t.like(str, "lua pattern", "matches")
--   t.skip("what", "why it cannot run here")   -- a skip, never a pass
--   t.done()   -- prints "1..N"; exits non-zero when anything failed or
--              -- nothing ran
--   t.skip_all("why")  -- instead of t.done() when nothing can run here
--
-- Works under plain lua5.4 and under `kbsyncd --exec` (nothing here yields).
-- Output goes to stdout with io.write and is flushed per line, so a test that
-- dies half-way still shows how far it got.
local M = {}

local count, failed, skipped_all = 0, 0, nil

local function out(line)
    io.write(line, "\n")
    io.flush()
end

-- Values printed in diagnostics: strings quoted, tables in a stable order.
local function show(v, depth)
    depth = depth or 0
    if type(v) == "string" then return string.format("%q", v) end
    if type(v) ~= "table" or depth > 3 then return tostring(v) end
    local mt = getmetatable(v)
    if mt and mt.__tostring then return tostring(v) end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do
        parts[#parts + 1] = tostring(k) .. "=" .. show(v[k], depth + 1)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

local function deep_equal(a, b)
    if a == b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return false end
    for k, v in pairs(a) do
        if not deep_equal(v, b[k]) then return false end
    end
    for k in pairs(b) do
        if a[k] == nil then return false end
    end
    return true
end

-- Prints a "# ..." comment line for each line of the message.
function M.diag(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    for line in (table.concat(parts, " ") .. "\n"):gmatch("([^\n]*)\n") do
        out("# " .. line)
    end
end

function M.ok(cond, desc)
    count = count + 1
    desc = desc and (" - " .. desc) or ""
    if cond then
        out("ok " .. count .. desc)
    else
        failed = failed + 1
        out("not ok " .. count .. desc)
        -- Report the first caller outside this file (is/like call ok).
        local level, info = 2, debug.getinfo(2, "Sl")
        while info and info.source == debug.getinfo(1, "S").source do
            level = level + 1
            info = debug.getinfo(level, "Sl")
        end
        if info then
            M.diag(string.format("  at %s:%s", info.short_src, tostring(info.currentline)))
        end
    end
    return cond and true or false
end

function M.is(got, want, desc)
    local good = deep_equal(got, want)
    if not M.ok(good, desc) then
        M.diag("       got: " .. show(got))
        M.diag("  expected: " .. show(want))
    end
    return good
end

function M.isnt(got, unwanted, desc)
    local good = not deep_equal(got, unwanted)
    if not M.ok(good, desc) then M.diag("  got the unwanted value: " .. show(got)) end
    return good
end

function M.like(str, pattern, desc)
    local good = type(str) == "string" and str:find(pattern) ~= nil
    if not M.ok(good, desc) then
        M.diag("       got: " .. show(str))
        M.diag("  expected to match: " .. pattern)
    end
    return good
end

function M.unlike(str, pattern, desc)
    local good = type(str) ~= "string" or str:find(pattern) == nil
    if not M.ok(good, desc) then
        M.diag("       got: " .. show(str))
        M.diag("  expected not to match: " .. pattern)
    end
    return good
end

-- Marks a test that was not run, so the count stays stable.  The reason is
-- required: the runner fails a skip that does not say why.
function M.skip(desc, why)
    assert(type(why) == "string" and why ~= "", "tap.skip needs a reason")
    count = count + 1
    out("ok " .. count .. " - " .. (desc or "") .. " # SKIP " .. why)
end

-- Declares the whole script skipped: prints "1..0 # SKIP why".
function M.skip_all(why)
    assert(type(why) == "string" and why ~= "", "tap.skip_all needs a reason")
    assert(count == 0, "tap.skip_all after checks ran")
    skipped_all = why
    out("1..0 # SKIP " .. why)
    return true
end

function M.counts() return count, failed end

-- Prints the plan. On failure (or when nothing ran) exits with status 1, so
-- runners and make see it; pass {exit = false} to raise an error instead.
function M.done(opts)
    if skipped_all and count == 0 then return true end
    out("1.." .. count)
    if failed == 0 and count > 0 then return true end
    local msg = count == 0 and "no tests ran"
        or string.format("failed %d of %d tests", failed, count)
    M.diag(msg)
    if opts and opts.exit == false then error(msg, 2) end
    os.exit(1)
end

return M
