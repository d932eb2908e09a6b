-- keboola_cases.lua - the client tests every provider runs against the
-- rig (Storage API emulator + moto S3 / Azurite / emulated GCS):
--   require("helpers.keboola_cases").run("aws")
local t = require "tap"
local kbc = require "keboola"
local rig = require "helpers.keboola_rig"
local timer = require "host.timer"

local M = {}

local KiB, MiB = 1024, 1024 * 1024

-- Thresholds lowered so that a small file already takes the multi-part
-- path: S3 parts cannot be under 5 MiB (moto checks it), the others can.
local per_provider = {
    aws = { upload = { s3_single_max = 1 * MiB, s3_part_size = 5 * MiB }, big = 11 * MiB + 300 },
    azure = { upload = { abs_single_max = 256 * KiB, abs_block_size = 256 * KiB }, big = MiB + 300 },
    gcp = { upload = { gcs_single_max = 256 * KiB, gcs_chunk_size = 256 * KiB }, big = MiB + 300 },
}

local function check(value, err, desc)
    if not t.ok(value ~= nil, desc) then t.diag("  error: " .. tostring(err)) end
    return value
end

-- Uploads `path` and loads it into table_id (or creates the table), then
-- compares the table with `expect`.
local function load_and_compare(r, c, path, name, table_id, expect, desc)
    local up, err = c:upload_file(path, { name = name })
    if not check(up, err, desc .. ": upload") then return end
    local job
    job, err = c:load_table(table_id, up.id)
    if not check(job, err, desc .. ": full load") then return end
    t.is(r:table_csv(table_id), expect, desc .. ": table holds the new contents")
    return up
end

local function cases(provider, r, dir)
    local pp = per_provider[provider]
    local c = kbc.new(r:client_config({ upload = pp.upload }))

    -- token
    local info, err = c:verify_token()
    check(info, err, "verify token")
    t.is(info and info.file_storage_provider, provider, "provider from token verify")

    -- bucket: create, then found again without a create
    local bucket, created = c:ensure_bucket("kbtest")
    check(bucket, created, "create bucket")
    t.is(created, true, "bucket was created")
    local again, created2 = c:ensure_bucket("kbtest")
    t.is(again and again.id, bucket and bucket.id, "second ensure finds the same bucket")
    t.is(created2, false, "... without creating")
    if not bucket then return end

    -- small file → new table
    local small = dir .. "/orders.csv"
    local expect = rig.write_csv(small, { "id", "name" }, { { "1", "apple" }, { "2", "pear" } })
    local up, uerr = c:upload_file(small)
    check(up, uerr, "upload small file")
    local tbl, job = c:create_table(bucket.id, "orders", up and up.id)
    check(tbl, job, "create table from small file")
    t.is(tbl and tbl.columns, { "id", "name" }, "table columns")
    local orders = tbl and tbl.id
    t.is(r:table_csv(orders), expect, "table contents after create")
    if not orders then return end -- nothing below can work without it

    -- a file above the thresholds → multipart / blocks / resumable chunks
    local big = dir .. "/big.csv"
    local big_expect, big_size = rig.write_big_csv(big, pp.big, "first")
    local started = timer.now()
    local bup, berr = c:upload_file(big)
    check(bup, berr, "upload big file")
    t.ok(bup and bup.parts and bup.parts >= 3, "big file went in parts: " .. tostring(bup and bup.parts))
    t.is(bup and bup.size_bytes, big_size, "size of the upload")
    local btbl, bjob = c:create_table(bucket.id, "big", bup and bup.id)
    check(btbl, bjob, "create table from big file")
    t.is(r:table_csv(btbl and btbl.id or "in.c-kbtest.big"), big_expect, "big table contents")
    t.diag(string.format("big file %d bytes in %d parts, upload+create %d ms", big_size,
        bup and bup.parts or 0, timer.now() - started))

    -- full load of a changed file
    local expect2 = rig.write_csv(small, { "id", "name" }, { { "3", "plum" }, { "4", "fig" }, { "5", "kiwi" } })
    load_and_compare(r, c, small, "orders.csv", orders, expect2, "changed file")

    -- gzipped upload (name ends in .gz)
    local expect3 = rig.write_csv(small, { "id", "name" }, { { "6", "lime" } })
    local gz = rig.gzip(small)
    load_and_compare(r, c, gz, "orders.csv.gz", orders, expect3, "gzipped file")

    -- header mismatch → readable job error
    local bad = dir .. "/bad.csv"
    rig.write_csv(bad, { "id", "title" }, { { "7", "x" } })
    local bup2 = c:upload_file(bad, { name = "orders.csv" })
    local ok, merr = c:load_table(orders, bup2 and bup2.id)
    t.is(ok, nil, "header mismatch fails the load")
    t.is(merr and merr.kind, "permanent", "mismatch is permanent")
    t.is(merr and merr.code, "csvImport.columnsNotMatch", "mismatch code")
    t.like(merr and merr.message, "missing columns name; expected columns id,name", "mismatch message names columns")
    t.is(r:table_csv(orders), expect3, "table untouched by the failed load")

    return c, bucket, orders, expect3
end

-- Each fault kind the emulator injects, once, on a request the client makes.
local function fault_cases(provider, r, dir, c, bucket, orders)
    local status_kinds = { "500", "502", "503", "504", "500-retry-after", "502-retry-after",
        "503-retry-after", "504-retry-after", "429", "429-retry-after", "maintenance", "drop", "slow" }
    for _, kind in ipairs(status_kinds) do
        r:faults({ retryAfter = 1, script = { { method = "GET", path = "^/v2/storage/buckets$", kind = kind } } })
        local list, err = c:list_buckets()
        check(list, err, "list buckets through a " .. kind .. " fault")
        t.is(#r:pending_faults(), 0, kind .. " fault was served")
    end

    -- a response slower than the client's timeout: timeout, then retry
    local impatient = kbc.new(r:client_config({ http = { timeout_ms = 800 } }))
    r:faults({ slowMs = 1500, script = { { method = "GET", path = "^/v2/storage/tables/", kind = "slow" } } })
    local tbl, terr = impatient:get_table(orders)
    check(tbl, terr, "a timed-out request is retried")

    -- the work is done but the answer is 500: the retry meets "already exists"
    r:faults({ script = { { method = "POST", path = "^/v2/storage/buckets$", kind = "commit-then-500" } } })
    local b, berr = c:create_bucket("kbtest2")
    check(b, berr, "bucket create survives commit-then-500")
    t.is(#r:pending_faults(), 0, "... the fault was served")
    t.is(b and b.stage, "in", "the bucket read back")

    local small = dir .. "/committed.csv"
    local expect = rig.write_csv(small, { "id", "name" }, { { "1", "once" } })
    local up = c:upload_file(small)
    r:faults({ script = { { method = "POST", path = "tables-async$", kind = "commit-then-500" } } })
    local created, cerr = c:create_table(bucket.id, "committed", up and up.id)
    check(created, cerr, "table create survives commit-then-500")
    t.is(#r:pending_faults(), 0, "... the fault was served")
    t.is(r:table_csv(created and created.id or "in.c-kbtest.committed"), expect, "... with the right contents")

    r:faults({ script = { { method = "POST", path = "import-async$", kind = "commit-then-500" } } })
    local job, jerr = c:load_table(created and created.id, up and up.id)
    check(job, jerr, "import survives commit-then-500")
    t.is(#r:pending_faults(), 0, "... the fault was served")

    -- a job that never finishes: the deadline turns it into an error
    local hasty = kbc.new(r:client_config({ jobs = { poll_initial_ms = 50, poll_cap_ms = 200, deadline_s = 1 } }))
    r:faults({ script = { { method = "POST", path = "import-async$", kind = "stuck-job" } } })
    local stuck, serr = hasty:load_table(created and created.id, up and up.id)
    t.is(stuck, nil, "stuck job does not succeed")
    t.is(serr and serr.code, "job.deadline", "stuck job reported at the deadline")
    t.is(serr and serr.kind, "retryable", "a job past its deadline is retryable")

    -- faults on the cloud side
    if provider == "aws" then
        local big = dir .. "/s3faults.csv"
        local expect2 = rig.write_big_csv(big, 11 * MiB, "s3")
        r:faults({ script = {
            { class = "s3", method = "PUT", kind = "503", count = 1 },
            { class = "s3", method = "PUT", kind = "drop", count = 1 },
            { class = "s3", method = "POST", kind = "500", count = 1 } } })
        load_and_compare(r, c, big, "big.csv", bucket.id .. ".big", expect2, "S3 multipart with faults")
        t.is(#r:pending_faults(), 0, "S3 faults were served")
    elseif provider == "gcp" then
        local big = dir .. "/gcsfaults.csv"
        local expect2 = rig.write_big_csv(big, MiB, "gcs")
        r:faults({ script = {
            { class = "gcs", method = "PUT", kind = "drop", count = 1 },
            { class = "gcs", method = "PUT", kind = "503", count = 1 },
            { class = "gcs", method = "POST", kind = "502", count = 1 } } })
        load_and_compare(r, c, big, "big.csv", bucket.id .. ".big", expect2, "GCS resumable with faults")
        t.is(#r:pending_faults(), 0, "GCS faults were served")
    end
    r:faults()
end

local function auth_cases(provider, r, dir)
    local wrong = kbc.new(r:client_config({ token = "123-999-notatoken" }))
    local info, err = wrong:verify_token()
    t.is(info, nil, "wrong token: verify fails")
    t.is(err and err.kind, "auth", "wrong token reported as auth")
    t.is(err and err.status, 401, "... HTTP 401")
    local f = dir .. "/auth.csv"
    rig.write_csv(f, { "a" }, { { "1" } })
    local up, uerr = wrong:upload_file(f)
    t.is(up == nil and uerr and uerr.kind, "auth", "wrong token: upload reported as auth")

    local limited = kbc.new(r:client_config({ token = r.vars.KBSYNCD_TOKEN_NO_MANAGE }))
    local b, berr = limited:create_bucket("forbidden")
    t.is(b == nil and berr and berr.kind, "permanent", "403 without canManageBuckets is permanent")

    if provider == "gcp" then
        local c = kbc.new(r:client_config({ upload = per_provider.gcp.upload }))
        -- Tokens that expire at once: every refresh gives another dead one.
        r:config({ gcsTokenTtl = 0 })
        local up2, gerr = c:upload_file(f)
        t.is(up2 == nil and gerr and gerr.kind, "auth", "expired GCS credentials reported as auth")
        -- Tokens that live one second, and a slow chunk: the upload has to
        -- refresh half-way and go on.
        r:config({ gcsTokenTtl = 1 })
        local big = dir .. "/refresh.csv"
        rig.write_big_csv(big, MiB, "refresh")
        r:faults({ slowMs = 1200, script = { { class = "gcs", method = "PUT", kind = "slow", count = 1 } } })
        local up3, rerr = c:upload_file(big)
        check(up3, rerr, "GCS upload refreshes an expired token and goes on")
        r:config({ gcsTokenTtl = 3599 })
        r:faults()
    end
end

-- 20 full loads under a 30 % fault rate end with the last contents.
local function fault_rate_case(provider, r, dir, c, orders)
    r:faults({ rate = 0.3, seed = 7, retryAfter = 0, slowMs = 100 })
    local path = dir .. "/churn.csv"
    local expect
    local failures = 0
    local started = timer.now()
    for i = 1, 20 do
        expect = rig.write_csv(path, { "id", "name" }, { { tostring(i), "load-" .. i }, { "x" .. i, "y" } })
        local up, err = c:upload_file(path, { name = "orders.csv" })
        local job
        if up then job, err = c:load_table(orders, up.id) end
        if not job then
            failures = failures + 1
            t.diag("load " .. i .. " failed: " .. tostring(err))
        end
    end
    local served = #r:fault_history()
    r:faults()
    t.is(failures, 0, "20 loads under fault rate 0.3 all succeed")
    t.ok(served > 5, "faults were really injected: " .. served)
    t.is(r:table_csv(orders), expect, "table holds the last load")
    t.diag(string.format("20 loads, %d faults, %d ms", served, timer.now() - started))
end

function M.run(provider)
    local dir = rig.tmpdir()
    local started = timer.now()
    local r = rig.up(provider)
    local ok, err = pcall(function()
        local c, bucket, orders = cases(provider, r, dir)
        if not c then return end
        fault_cases(provider, r, dir, c, bucket, orders)
        auth_cases(provider, r, dir)
        fault_rate_case(provider, r, dir, c, orders)
    end)
    r:down()
    rig.rmdir(dir)
    t.ok(ok, "no test raised" .. (ok and "" or (": " .. tostring(err))))
    t.diag(string.format("%s: %d ms", provider, timer.now() - started))
    t.done()
end

return M
