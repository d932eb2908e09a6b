-- test_keboola_unit.lua - the client's logic against a fake host.http.
-- No network, no yields: runs under plain `lua5.4 tests/lua/test_keboola_unit.lua`
-- (from the repository root) and under `build/kbsyncd --exec` alike.
package.path = "lua/?.lua;lua/?/init.lua;tests/lua/?.lua;" .. package.path

local t = require "tap"
local cjson = require "cjson"
local kbc = require "keboola"
local errors = require "keboola.errors"
local url = require "keboola.url"
local base64 = require "keboola.base64"
local abs = require "keboola.upload.abs"
local gcs = require "keboola.upload.gcs"
local common = require "keboola.upload.common"

local TOKEN = "123-456-SeCrEtToKeNvAlUe"

---------------------------------------------------------------- fakes

-- A fake host: http answers through `route(req)`; every request, log line
-- and sleep is recorded.
local function fake_host(route)
    local h = { requests = {}, logs = {}, sleeps = {}, clock = 0 }
    h.http = { request = function(req)
        h.requests[#h.requests + 1] = req
        return route(req, #h.requests)
    end }
    local function logger(level)
        return function(event, fields)
            h.logs[#h.logs + 1] = { level = level, event = event, fields = fields }
        end
    end
    h.log = { debug = logger("debug"), info = logger("info"), warn = logger("warn"),
              error = logger("error"), trace = logger("trace") }
    h.deps = {
        http = h.http, log = h.log,
        sleep = function(ms) h.sleeps[#h.sleeps + 1] = ms; h.clock = h.clock + ms end,
        now = function() return h.clock end,
        fs = { stat = function() return { size = 0 } end },
        random = function(_, n) return n end, -- deterministic "jitter": the ceiling
    }
    return h
end

local function json(status, doc, headers)
    return status, headers or {}, cjson.encode(doc)
end

local function client(route, cfg)
    local h = fake_host(route)
    cfg = cfg or {}
    cfg.host = cfg.host or "connection.example.com"
    cfg.token = TOKEN
    cfg.retry = cfg.retry or { base_ms = 100, cap_ms = 1000, max_attempts = 8 }
    return kbc.new(cfg, h.deps), h
end

-- Everything the client could have leaked: requests' URLs/logs/errors.
local function dump_logs(h)
    local out = {}
    for _, l in ipairs(h.logs) do
        out[#out + 1] = l.event .. " " .. t.show(l.fields)
    end
    return table.concat(out, "\n")
end

---------------------------------------------------------------- errors

do
    t.is(errors.kind_of_status(503), "retryable", "503 retryable")
    t.is(errors.kind_of_status(501), "permanent", "501 permanent")
    t.is(errors.kind_of_status(429), "retryable", "429 retryable")
    t.is(errors.kind_of_status(408), "retryable", "408 retryable")
    t.is(errors.kind_of_status(423), "retryable", "423 retryable")
    t.is(errors.kind_of_status(401), "auth", "401 auth")
    t.is(errors.kind_of_status(403), "permanent", "403 permanent")
    t.is(errors.kind_of_status(404), "permanent", "404 permanent")
    local e = errors.from_response(503, { ["retry-after"] = "7" },
        '{"error":"Down for upgrade","code":"storage.maintenance","exceptionId":"exception-1"}',
        "POST /v2/storage/buckets")
    t.is(tostring(e),
        "retryable: HTTP 503 storage.maintenance: Down for upgrade [exception-1] (POST /v2/storage/buckets)",
        "tostring is one readable line")
    t.is(e.retry_after_s, 7, "Retry-After parsed")
    local m = errors.from_response(503, {}, '{"status":"maintenance","reason":"upgrade"}', "GET /x")
    t.is(m.code, "maintenance", "maintenance body code")
    t.is(m.message, "upgrade", "maintenance body reason")
    local x = errors.from_cloud_response(400, {},
        "<Error><Code>RequestTimeout</Code><Message>Your socket connection</Message></Error>", "PUT /b/k")
    t.is(x.kind, "retryable", "S3 400 RequestTimeout is retryable")
    local a = errors.from_cloud_response(403, {},
        "<Error><Code>ExpiredToken</Code><Message>expired</Message></Error>", "PUT /b/k")
    t.is(a.kind, "auth", "S3 ExpiredToken is auth")
    local n = errors.from_transport("timeout: Operation timed out after 30000 ms", "GET /v2/storage/x")
    t.is(n.kind, "retryable", "timeout retryable")
    t.is(n.code, "timeout", "transport class as code")
    t.is(errors.from_transport("file: cannot open", "PUT /x").kind, "permanent", "file error permanent")
    t.is(errors.from_transport("tls: SSL certificate problem", "GET /").kind, "permanent",
        "certificate refusal permanent")
    local r = errors.from_response(500, {}, "oops " .. TOKEN, "GET /x", { TOKEN })
    t.unlike(r.message, TOKEN, "redacted from messages")
    local g = errors.from_response(401, {}, '{"error":{"code":401,"message":"Invalid Credentials"}}', "POST /u")
    t.is(g.message, "Invalid Credentials", "google error shape")
    t.is(errors.op_name("PUT", "https://a.b/c/d?sig=secret"), "PUT /c/d", "op drops query")
    t.ok(not tostring(errors.from_response(502, {}, "<html>\n<b>Bad</b>\n</html>", "GET /")):find("\n"),
        "one line even for multi-line bodies")
end

---------------------------------------------------------------- url, base64, sas

do
    t.is(url.normalize_base("connection.keboola.com"), "https://connection.keboola.com", "scheme added")
    t.is(url.normalize_base("http://127.0.0.1:99/"), "http://127.0.0.1:99", "slash dropped")
    t.is(url.normalize_base("https://x.y/v2/storage/"), "https://x.y", "api path dropped")
    t.is(url.encode("exp-15/1 2/a+b~c.csv", true), "exp-15/1%202/a%2Bb~c.csv", "S3 key encoding")
    t.is(url.query({ uploadId = "a/b=", partNumber = 3 }), "partNumber=3&uploadId=a%2Fb%3D",
        "sorted, encoded query")
    t.is(url.query({ uploads = true }), "uploads=", "?uploads=")
    t.is(base64.encode("block-00000001"), "YmxvY2stMDAwMDAwMDE=", "base64")
    t.is(base64.decode(base64.encode("\0\1\2xyz")), "\0\1\2xyz", "base64 round trip")
    for _, s in ipairs({ "", "a", "ab", "abc", "abcd" }) do
        t.is(base64.decode(base64.encode(s)), s, "base64 round trip len " .. #s)
    end
    t.is(#abs.block_id(1), #abs.block_id(49999), "block ids have one length")
    local c = abs.parse_connection_string(
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;SharedAccessSignature=?sv=2021-08-06&sr=c&sig=ab%2Bc=")
    t.is(c.BlobEndpoint, "http://127.0.0.1:10000/devstoreaccount1", "BlobEndpoint")
    t.is(c.SharedAccessSignature, "sv=2021-08-06&sr=c&sig=ab%2Bc=", "SAS kept whole")
    t.is(abs.parse_connection_string("BlobEndpoint=x"), nil, "SAS required")
    t.is(gcs.committed({ range = "bytes=0-262143" }), 262144, "committed offset")
    t.is(gcs.committed({}), 0, "no Range: nothing committed")
    t.is(common.part_size(100, 10, 5, 1), 20, "part grows to the part-count limit")
    t.is(common.part_count(0, 10), 1, "empty file is one part")
    t.is(common.part_count(21, 10), 3, "part count rounds up")
end

---------------------------------------------------------------- dialect

do
    t.is(kbc.dialect_fields(nil), { delimiter = ",", enclosure = '"' }, "default dialect")
    t.is(kbc.dialect_fields({ delimiter = "\t", escaped_by = "\\" }),
        { delimiter = "\t", enclosure = "", escapedBy = "\\" }, "escapedBy sends empty enclosure")
end

---------------------------------------------------------------- token verify

do
    local c, h = client(function(req)
        if req.url:find("/tokens/verify") then
            return json(200, { id = 44, token = TOKEN, description = "d", canManageBuckets = true,
                bucketPermissions = { ["in.c-a"] = "write" },
                owner = { id = "58", name = "P", fileStorageProvider = "aws" } })
        end
    end)
    local info = c:verify_token()
    t.is(info.project_id, "58", "owner.id string kept")
    t.is(info.token_id, "44", "token id normalised to string")
    t.is(info.file_storage_provider, "aws", "provider")
    t.is(info.can_manage_buckets, true, "canManageBuckets")
    t.is(info.bucket_permissions["in.c-a"], "write", "bucketPermissions")
    t.is(info.stack_host, "connection.example.com", "stack host")
    t.ok(not t.show(info):find(TOKEN, 1, true), "verify answer's token dropped")
    local req = h.requests[1]
    t.is(req.url, "https://connection.example.com/v2/storage/tokens/verify", "URL")
    t.is(req.headers["X-StorageApi-Token"], TOKEN, "token header")
    t.like(req.headers["User-Agent"], "^kbsyncd/", "user agent")
    t.ok(not tostring(c):find(TOKEN, 1, true), "tostring(client) hides the token")
    local c2 = client(function() return json(200, { owner = { id = 8625 } }) end)
    t.is(c2:verify_token().project_id, "8625", "owner.id number normalised")
end

---------------------------------------------------------------- retry policy

do
    local n = 0
    local c, h = client(function()
        n = n + 1
        if n == 1 then return nil, "connect: Connection refused" end
        if n == 2 then return json(503, { error = "m", code = "x" }, { ["retry-after"] = "2" }) end
        if n == 3 then return json(500, { error = "boom" }) end
        return json(200, {})
    end)
    local list, err = c:list_buckets()
    t.ok(list, "succeeds after network error, 503 and 500")
    t.is(h.sleeps, { 100, 2000, 400 }, "backoff: jitter ceiling 100, Retry-After 2 s, 400")
    local c2, h2 = client(function() return json(500, { error = "down" }) end,
        { retry = { base_ms = 10, cap_ms = 30, max_attempts = 4 } })
    local _, e2 = c2:list_buckets()
    t.is(e2.kind, "retryable", "gives up with a retryable error")
    t.is(e2.attempts, 4, "max_attempts respected")
    t.is(h2.sleeps, { 10, 20, 30 }, "capped backoff")
    local c3, h3 = client(function() return json(401, { error = "Invalid access token", code = "storage.tokenInvalid" }) end)
    local _, e3 = c3:verify_token()
    t.is(e3.kind, "auth", "401 is auth")
    t.is(#h3.requests, 1, "auth never retried")
    local c4, h4 = client(function() return json(404, { error = "nf", code = "storage.tables.notFound" }) end)
    local _, e4 = c4:get_table("in.c-a.b")
    t.is(e4.code, "storage.tables.notFound", "notFound code")
    t.is(#h4.requests, 1, "permanent never retried")
end

---------------------------------------------------------------- buckets

do
    local buckets = {
        { id = "in.c-sales", name = "c-sales", displayName = "sales", stage = "in" },
        { id = "out.c-sales", name = "c-sales", displayName = "sales", stage = "out" },
        { id = "in.plain", name = "plain", displayName = "plain", stage = "in" },
        { id = "in.c-renamed", name = "c-old", displayName = "renamed", stage = "in" },
    }
    t.is(kbc.find_bucket(buckets, "sales").id, "in.c-sales", "c- prefix match")
    t.is(kbc.find_bucket(buckets, "sales", "out").id, "out.c-sales", "stage respected")
    t.is(kbc.find_bucket(buckets, "plain").id, "in.plain", "no-prefix match")
    t.is(kbc.find_bucket(buckets, "renamed").id, "in.c-renamed", "displayName match")
    t.is(kbc.find_bucket(buckets, "none"), nil, "absent")

    -- A create whose first attempt went through but answered 500: the
    -- retry meets "already exists", which must end in the bucket.
    local posts = 0
    local c, h = client(function(req)
        if req.method == "POST" then
            posts = posts + 1
            if posts == 1 then return json(500, { error = "lost answer" }) end
            return json(400, { error = "The bucket c-new already exists.", code = "storage.buckets.alreadyExists" })
        end
        return json(200, { { id = "in.c-new", name = "c-new", displayName = "new", stage = "in" } })
    end)
    local b, err = c:create_bucket("new")
    t.is(b and b.id, "in.c-new", "already exists after retry → listed bucket: " .. tostring(err))
    local body = cjson.decode(h.requests[1].body)
    t.is(body, { name = "new", stage = "in" }, "create body")
    t.is(h.requests[1].headers["Content-Type"], "application/json", "JSON content type")

    local c2 = client(function(req)
        if req.method == "POST" then return json(201, { id = "in.fresh", name = "fresh", stage = "in" }) end
        return json(200, {})
    end)
    local nb, created = c2:ensure_bucket("fresh")
    t.is(nb.id, "in.fresh", "id taken from the create answer")
    t.is(created, true, "ensure reports creation")
end

-- Display names are unique per project: a create refused as existing finds
-- the holder by display name or name in any stage, or says why not.
do
    local buckets = {
        { id = "out.c-reports", name = "c-reports", displayName = "sales", stage = "out" },
        { id = "out.c-fin", name = "c-fin", displayName = "money", stage = "out" },
    }
    t.is(kbc.find_bucket(buckets, "sales"), nil, "find_bucket stays in its stage")
    t.is(kbc.find_existing_bucket(buckets, "sales", "in").id, "out.c-reports", "display name in another stage")
    t.is(kbc.find_existing_bucket(buckets, "fin", "in").id, "out.c-fin", "name in another stage")
    t.is(kbc.find_existing_bucket(buckets, "nothing", "in"), nil, "absent")
    local function route(list)
        return function(req)
            if req.method == "POST" then
                return json(400, { error = 'The display name "sales" already exists in project.',
                                   code = "storage.buckets.alreadyExists" })
            end
            return json(200, list)
        end
    end
    local c = client(route(buckets))
    local b = c:ensure_bucket("sales", { buckets = {} })
    t.is(b and b.id, "out.c-reports", "ensure_bucket ends in the bucket that holds the display name")
    local c2, h2 = client(route({}))
    local none, err = c2:create_bucket("sales")
    t.is(none, nil, "holder not visible: nil")
    t.like(err and err.message or "", "is visible to this token in any stage", "the error says why")
    t.is(#h2.requests, 2, "one create, one list: no loop")
end

---------------------------------------------------------------- jobs

do
    local polls = 0
    local c, h = client(function(req)
        if req.url:find("tables-async", 1, true) then
            return json(202, { id = 7, status = "waiting", operationName = "tableCreate" })
        end
        if req.url:find("/jobs/7") then
            polls = polls + 1
            if polls < 5 then return json(200, { id = 7, status = "processing" }) end
            return json(200, { id = 7, status = "success", operationName = "tableCreate",
                results = { id = "in.c-a.t", name = "t", columns = { "a", "b" } } })
        end
    end, { jobs = { poll_initial_ms = 1000, poll_cap_ms = 4000, deadline_s = 60 } })
    local tbl, job = c:create_table("in.c-a", "t", 99, { dialect = { delimiter = ";" } })
    t.is(tbl and tbl.id, "in.c-a.t", "table from job results")
    t.is(job and job.status, "success", "job returned")
    t.is(h.sleeps, { 1000, 2000, 4000, 4000, 4000 }, "poll schedule doubles to the cap")
    local body = cjson.decode(h.requests[1].body)
    t.is(body, { name = "t", dataFileId = 99, delimiter = ";", enclosure = '"' }, "tables-async body")
    t.like(dump_logs(h), "job_finished", "job finish logged")

    local c2 = client(function(req)
        if req.url:find("import%-async") then
            local b = cjson.decode(req.body)
            t.is(b.incremental, false, "full load: incremental false")
            return json(202, { id = 8, status = "waiting", tableId = "in.c-a.t" })
        end
        return json(200, { id = 8, status = "error", tableId = "in.c-a.t", operationName = "tableImport",
            results = { missingColumns = { "name" }, expectedColumns = { "id", "name" } },
            error = { code = "csvImport.columnsNotMatch", message = "Some columns are missing",
                      exceptionId = "exception-5" } })
    end)
    local ok, err = c2:load_table("in.c-a.t", 5)
    t.is(ok, nil, "failed job → nil")
    t.is(err.kind, "permanent", "job error permanent")
    t.is(err.code, "csvImport.columnsNotMatch", "job error code")
    t.like(err.message, "missing columns name; expected columns id,name", "readable mismatch message")
    t.like(tostring(err), "^permanent: csvImport.columnsNotMatch: the CSV header does not match table in.c%-a.t",
        "tostring of job error")

    local c3 = client(function(req)
        if req.method == "POST" then return json(202, { id = 9, status = "waiting" }) end
        return json(200, { id = 9, status = "processing" })
    end, { jobs = { poll_initial_ms = 1000, poll_cap_ms = 1000, deadline_s = 5 } })
    local _, derr = c3:load_table("in.c-a.t", 5)
    t.is(derr and derr.code, "job.deadline", "deadline reported")

    -- "table already exists" from the job: re-read and full load.
    local c4, h4 = client(function(req)
        if req.url:find("tables%-async") then return json(202, { id = 1, status = "waiting" }) end
        if req.url:find("/jobs/1$") then
            return json(200, { id = 1, status = "error", error = { code = "storage.buckets.tableAlreadyExists", message = "exists" } })
        end
        if req.url:find("import%-async") then return json(202, { id = 2, status = "success", tableId = "in.c-a.t" }) end
        if req.url:find("/tables/in.c%-a.t$") then return json(200, { id = "in.c-a.t", columns = { "a" } }) end
    end)
    local t4 = c4:create_table("in.c-a", "t", 3)
    t.is(t4 and t4.id, "in.c-a.t", "tableAlreadyExists → full load + re-read")
    t.ok(h4.requests[3].url:find("import%-async"), "loaded our file into the existing table")
end

-- "Table already exists" because another table shows the name as its
-- display name (renamed in the UI): no table has the id, the one shown
-- under the name is adopted and returned with its real id.
do
    local exists = { error = 'The table "orders" in the bucket already has the same display name "sales".',
                     code = "storage.buckets.tableAlreadyExists" }
    local function route(list)
        return function(req)
            if req.url:find("tables%-async") then return json(400, exists) end
            if req.url:find("/tables/in.c%-a.sales/import%-async") then
                return json(404, { error = "no such table", code = "storage.tables.notFound" })
            end
            if req.url:find("/buckets/in.c%-a/tables") then return json(200, list) end
            if req.url:find("/tables/in.c%-a.orders/import%-async") then
                return json(202, { id = 3, status = "success", tableId = "in.c-a.orders" })
            end
            if req.url:find("/tables/in.c%-a.orders$") then
                return json(200, { id = "in.c-a.orders", name = "orders", displayName = "sales", columns = { "id" } })
            end
            return json(500, { error = "unexpected " .. req.method .. " " .. req.url })
        end
    end
    local c, h = client(route({ { id = "in.c-a.orders", name = "orders", displayName = "sales" },
                                { id = "in.c-a.other", name = "other", displayName = "other" } }))
    local tbl, job = c:create_table("in.c-a", "sales", 5)
    t.is(tbl and tbl.id, "in.c-a.orders", "adopted by display name, returned with its real id")
    t.is(job and job.id, 3, "the load into it is the job returned")
    local methods = {}
    for _, r in ipairs(h.requests) do methods[#methods + 1] = r.method .. " " .. url.path_of(r.url) end
    t.is(methods, { "POST /v2/storage/buckets/in.c-a/tables-async",
                    "POST /v2/storage/tables/in.c-a.sales/import-async",
                    "GET /v2/storage/buckets/in.c-a/tables",
                    "POST /v2/storage/tables/in.c-a.orders/import-async",
                    "GET /v2/storage/tables/in.c-a.orders" }, "one pass: create, load by id, list, load, read")
    t.like(dump_logs(h), "table_adopted_by_display_name", "the adoption is logged")

    local c2, h2 = client(route({ { id = "in.c-a.other", name = "other", displayName = "other" } }))
    local none, err = c2:create_table("in.c-a", "sales", 5)
    t.is(none, nil, "no table shown under the name: nil")
    t.is(err and err.code, "storage.buckets.tableAlreadyExists", "the create's error is reported")
    t.like(err and err.message or "", 'no table of the bucket is shown as "sales"', "saying what was looked for")
    t.is(#h2.requests, 3, "and no create is tried again (create, load, list)")
end

---------------------------------------------------------------- uploads

local function prepare_answer(provider, extra)
    local f = { id = 501, name = "t.csv", provider = provider, region = "eu-central-1" }
    for k, v in pairs(extra) do f[k] = v end
    return f
end

local SECRET = "AwsSecretKeyValue123"
local STS = "SessionTokenValue456"

do -- S3 multipart
    local MiB = 1024 * 1024
    local part2_failed = false
    local c, h = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("aws", { uploadParams = {
                bucket = "bkt", key = "exp-15/1/files/t.csv", acl = "private",
                ["x-amz-server-side-encryption"] = "AES256",
                credentials = { AccessKeyId = "ASIAKEY", SecretAccessKey = SECRET, SessionToken = STS } } }))
        end
        if req.url:find("%?uploads=$") then
            return 200, {}, "<InitiateMultipartUploadResult><UploadId>u/1+2</UploadId></InitiateMultipartUploadResult>"
        end
        if req.url:find("partNumber=2") and not part2_failed then
            part2_failed = true
            return json(503, {})
        end
        if req.url:find("partNumber=") then return 200, { etag = '"e' .. req.body_offset .. '"' }, "" end
        if req.method == "POST" then return 200, {}, "<CompleteMultipartUploadResult/>" end
    end, { s3_endpoint = "http://127.0.0.1:5000", upload = { s3_single_max = 1 * MiB, s3_part_size = 5 * MiB } })
    local f, err = c:upload_file("/spool/t.csv", { size = 12 * MiB })
    t.ok(f, "S3 multipart upload: " .. tostring(err))
    t.is(f and f.parts, 3, "three parts")
    local r = h.requests
    t.is(r[2].url, "http://127.0.0.1:5000/bkt/exp-15/1/files/t.csv?uploads=", "initiate URL, path style")
    t.is(r[2].aws_sigv4, "aws:amz:eu-central-1:s3", "sigv4 region")
    t.is(r[2].userpwd, "ASIAKEY:" .. SECRET, "userpwd")
    t.is(r[2].headers["x-amz-server-side-encryption"], "AES256", "SSE on initiate")
    t.is(r[2].headers["x-amz-acl"], "private", "ACL on initiate")
    t.is(r[2].headers["x-amz-security-token"], STS, "session token header")
    t.is(r[2].headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD", "unsigned payload header")
    t.is(r[3].url, "http://127.0.0.1:5000/bkt/exp-15/1/files/t.csv?partNumber=1&uploadId=u%2F1%2B2",
        "part URL, sorted query")
    t.is({ r[3].body_file, r[3].body_offset, r[3].body_length }, { "/spool/t.csv", 0, 5 * MiB },
        "part 1 streams its range")
    t.is(r[4].url:match("partNumber=(%d)"), "2", "part 2 attempted")
    t.is(r[5].url:match("partNumber=(%d)"), "2", "part 2 retried on its own")
    t.is({ r[6].body_offset, r[6].body_length }, { 10 * MiB, 2 * MiB }, "last part is the rest")
    t.is(r[7].headers["Content-Type"], "application/xml", "complete is XML")
    t.like(r[7].body, "<Part><PartNumber>3</PartNumber><ETag>\"e10485760\"</ETag></Part>", "complete lists etags")
    local prep = cjson.decode(r[1].body)
    t.is({ prep.federationToken, prep.isEncrypted, prep.sizeBytes, prep.name },
        { true, true, 12 * MiB, "t.csv" }, "prepare body")
    t.ok(not t.show(f):find(SECRET, 1, true), "summary holds no credentials")
    t.unlike(dump_logs(h), SECRET, "no secret key in logs")
    t.unlike(dump_logs(h), STS, "no session token in logs")
end

do -- S3 single PUT, virtual-hosted, and abort on failure
    local c, h = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("aws", { uploadParams = { bucket = "bkt", key = "k 1.csv",
                credentials = { AccessKeyId = "A", SecretAccessKey = SECRET, SessionToken = STS } } }))
        end
        return 200, {}, ""
    end)
    local f = c:upload_file("/spool/x", { size = 10, name = "x.csv" })
    t.ok(f, "single PUT")
    t.is(h.requests[2].url, "https://bkt.s3.eu-central-1.amazonaws.com/k%201.csv", "virtual-hosted URL")
    t.is(h.requests[2].method, "PUT", "PUT")

    local c2, h2 = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("aws", { uploadParams = { bucket = "b", key = "k",
                credentials = { AccessKeyId = "A", SecretAccessKey = SECRET, SessionToken = STS } } }))
        end
        if req.url:find("uploads=") then return 200, {}, "<UploadId>U</UploadId>" end
        if req.method == "DELETE" then return 204, {}, "" end
        return 403, {}, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    end, { upload = { s3_single_max = 1, s3_part_size = 1 } })
    local _, err = c2:upload_file("/spool/x", { size = 6 * 1024 * 1024 })
    t.is(err and err.code, "AccessDenied", "part failure reported")
    t.is(h2.requests[#h2.requests].method, "DELETE", "multipart aborted")
end

do -- Azure blocks
    local SAS = "sv=2021-08-06&sr=c&sig=AzureSigValue%2B1"
    local c, h = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("azure", { absUploadParams = {
                blobName = "t.csv.gz", container = "exp-15-files",
                absCredentials = { SASConnectionString = "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=" .. SAS } } }))
        end
        return 201, {}, ""
    end, { upload = { abs_single_max = 100, abs_block_size = 4096 } })
    local f, err = c:upload_file("/spool/t.gz", { size = 10000, name = "t.csv.gz" })
    t.ok(f, "Azure block upload: " .. tostring(err))
    t.is(f and f.parts, 3, "three blocks")
    local r = h.requests
    t.is(r[2].url, "http://127.0.0.1:10000/devstoreaccount1/exp-15-files/t.csv.gz?comp=block&blockid="
        .. url.encode(abs.block_id(1)) .. "&" .. SAS, "block URL")
    t.is({ r[4].body_offset, r[4].body_length }, { 8192, 10000 - 8192 }, "last block range")
    t.like(r[5].url, "comp=blocklist", "block list last")
    t.like(r[5].body, "<Latest>" .. abs.block_id(3) .. "</Latest></BlockList>", "block list XML")
    t.is(r[5].headers["x-ms-version"], abs.API_VERSION, "x-ms-version")
    t.unlike(dump_logs(h), "AzureSigValue", "SAS signature never logged")
    local c2, h2 = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("azure", { absUploadParams = { blobName = "b", container = "c",
                absCredentials = { SASConnectionString = "BlobEndpoint=http://x;SharedAccessSignature=" .. SAS } } }))
        end
        return 201, {}, ""
    end)
    t.ok(c2:upload_file("/s", { size = 5 }), "Azure single blob")
    t.is(h2.requests[2].headers["x-ms-blob-type"], "BlockBlob", "Put Blob header")
end

do -- GCS resumable with a lost chunk and a token refresh
    local KiB = 1024
    local committed, lost, refreshed = 0, false, false
    local c, h = client(function(req)
        if req.url:find("/files/prepare") then
            return json(200, prepare_answer("gcp", { gcsUploadParams = {
                bucket = "gb", key = "exp/t.csv", access_token = "OldGcsToken1", token_type = "Bearer" } }))
        end
        if req.url:find("/refresh") then
            refreshed = true
            return json(200, prepare_answer("gcp", { gcsUploadParams = {
                bucket = "gb", key = "exp/t.csv", access_token = "NewGcsToken2", token_type = "Bearer" } }))
        end
        if req.url:find("uploadType=resumable") then
            return 200, { location = "http://gcs.test/session/1" }, ""
        end
        if req.url == "http://gcs.test/session/1" then
            if req.headers.Authorization ~= "Bearer NewGcsToken2" and committed >= 256 * KiB then
                return 401, {}, '{"error":{"code":401,"message":"expired"}}'
            end
            local range = req.headers["Content-Range"]
            if range:find("^bytes %*/") then
                return 308, { range = "bytes=0-" .. (committed - 1) }, ""
            end
            local from, to = range:match("bytes (%d+)-(%d+)/")
            from, to = tonumber(from), tonumber(to)
            if from == 256 * KiB and not lost then
                lost = true
                committed = from + 100 -- part of the chunk arrived
                return nil, "network: connection reset"
            end
            t.is(from, committed, "chunk starts at the committed offset " .. committed)
            committed = to + 1
            if committed == 700 * KiB then return 200, {}, "{}" end
            return 308, { range = "bytes=0-" .. (committed - 1) }, ""
        end
    end, { gcs_endpoint = "http://127.0.0.1:4443", upload = { gcs_single_max = 1, gcs_chunk_size = 300 * KiB } })
    local f, err = c:upload_file("/spool/t", { size = 700 * KiB, name = "t.csv" })
    t.ok(f, "GCS resumable upload: " .. tostring(err))
    t.ok(lost and refreshed, "recovered from a lost chunk and a 401")
    t.like(h.requests[2].url, "^http://127.0.0.1:4443/upload/storage/v1/b/gb/o%?name=exp%%2Ft.csv&uploadType=resumable$",
        "resumable start URL")
    t.unlike(dump_logs(h), "GcsToken", "GCS tokens never logged")
end

do -- GCS: a file still being written (upload_stream): "/*" until the total is known
    local KiB = 1024
    local function run(total_bytes, growth, late_final)
        local ranges, starts = {}, {}
        local c = client(function(req)
            if req.url:find("/files/prepare") then
                return json(200, prepare_answer("gcp", { gcsUploadParams = {
                    bucket = "gb", key = "k", access_token = "GcsTokenValue" } }))
            end
            if req.url:find("uploadType=resumable") and req.method == "POST" then
                starts[#starts + 1] = req.headers["X-Upload-Content-Length"] or "none"
                return 200, { location = "http://127.0.0.1:4443/session/1" }, ""
            end
            local range = req.headers["Content-Range"]
            ranges[#ranges + 1] = range .. " @" .. tostring(req.body_file or "")
            local last, total = range:match("%-(%d+)/(%S+)$")
            if total ~= "*" and (not last or tonumber(last) + 1 == tonumber(total)) then
                return 200, {}, "{}"
            end
            return 308, { range = "bytes=0-" .. (last or "-1") }, ""
        end, { gcs_endpoint = "http://127.0.0.1:4443", upload = { gcs_single_max = 1, gcs_chunk_size = 256 * KiB } })
        -- The writer grows by `growth` bytes each time the upload waits;
        -- late_final: it says the file is complete only one wait later.
        local src = { bytes = 0, estimate = total_bytes }
        function src:state() return self.bytes, self.final end
        function src:changed()
            if late_final and self.bytes == total_bytes then self.final = total_bytes end
            self.bytes = math.min(total_bytes, self.bytes + growth)
            if not late_final and self.bytes == total_bytes then self.final = total_bytes end
        end
        function src:path() return self.final and "/spool/f" or "/spool/f.tmp" end
        local f, err = c:upload_file(nil, { name = "f.csv.gz", source = src })
        return f, err, ranges, starts
    end
    local f, err, ranges, starts = run(600 * KiB, 200 * KiB)
    t.ok(f, "GCS streamed upload: " .. tostring(err))
    t.is(starts, { "none" }, "the session starts without X-Upload-Content-Length")
    t.is(ranges, { "bytes 0-262143/* @/spool/f.tmp", "bytes 262144-524287/614400 @/spool/f",
                   "bytes 524288-614399/614400 @/spool/f" },
        "chunks say /* until the total is known, then name it; the complete file under its final name")
    t.is(f and f.size_bytes, 600 * KiB, "the summary has the final size")
    f, err, ranges = run(512 * KiB, 256 * KiB, true)
    t.ok(f, "GCS streamed upload, every byte before the total: " .. tostring(err))
    t.is(ranges, { "bytes 0-262143/* @/spool/f.tmp", "bytes 262144-524287/* @/spool/f.tmp",
                   "bytes */524288 @" }, "a status query naming the total finishes it")
end

do -- GCS: refreshed token refused too → auth; a fresh prepare is tried once
    local prepares = 0
    local c = client(function(req)
        if req.url:find("/files/prepare") or req.url:find("/refresh") then
            if req.url:find("prepare") then prepares = prepares + 1 end
            return json(200, prepare_answer("gcp", { gcsUploadParams = {
                bucket = "gb", key = "k", access_token = "Tok" .. prepares .. "xxxxxx" } }))
        end
        return 401, {}, '{"error":{"code":401,"message":"Invalid Credentials"}}'
    end)
    local _, err = c:upload_file("/s", { size = 3 })
    t.is(err and err.kind, "auth", "refused cloud credentials → auth")
    t.is(prepares, 2, "one fresh files/prepare before giving up")
end

do -- unknown provider
    local c = client(function() return json(200, prepare_answer("ibm", {})) end)
    local _, err = c:upload_file("/s", { size = 3 })
    t.is(err and err.code, "provider.unsupported", "unknown provider is permanent")
end

---------------------------------------------------------------- metadata

-- A fake Storage API that keeps one table's metadata as the real one does:
-- one entry per (provider, key), POST answers the JSON form.
local function metadata_api(initial)
    local stored = initial or {}
    local posted = {}
    local route = function(req)
        if req.method == "GET" and req.url:find("/metadata$") then return json(200, stored) end
        if req.method == "POST" and req.url:find("/metadata$") then
            local body = cjson.decode(req.body)
            posted[#posted + 1] = body
            for _, e in ipairs(body.metadata) do
                local held
                for _, m in ipairs(stored) do
                    if m.provider == body.provider and m.key == e.key then held = m end
                end
                if not held then held = { key = e.key, provider = body.provider }; stored[#stored + 1] = held end
                held.value = e.value
            end
            return json(201, { metadata = stored, columnsMetadata = {} })
        end
        return json(404, { error = "no route", code = "notFound" })
    end
    return route, stored, posted
end

local function by_key(list, provider)
    local out = {}
    for _, m in ipairs(list) do if m.provider == provider then out[m.key] = m.value end end
    return out
end

do -- provenance: every fact under provider kbsyncd, and a description
    local route, stored, posted = metadata_api()
    local c, h = client(route, { version = "9.9.9" })
    local facts = { path = "sales/orders.csv", size = 1234, fingerprint = "crc32c:abcd", rows = 10, host = "box1" }
    local r, err = c:write_provenance("in.c-sales.orders", facts)
    t.ok(r, "write_provenance: " .. tostring(err))
    t.is(h.requests[1].method .. " " .. h.requests[1].url,
        "GET https://connection.example.com/v2/storage/tables/in.c-sales.orders/metadata", "reads the metadata first")
    t.is(h.requests[2].headers["Content-Type"], "application/json", "posts JSON")
    t.is(posted[1].provider, "kbsyncd", "provider kbsyncd")
    local mine = by_key(stored, "kbsyncd")
    t.is(mine["kbsyncd.source.path"], "sales/orders.csv", "source path")
    t.is(mine["kbsyncd.source.bytes"], "1234", "size, as a string")
    t.is(mine["kbsyncd.source.fingerprint"], "crc32c:abcd", "fingerprint")
    t.is(mine["kbsyncd.source.rows"], "10", "rows")
    t.is(mine["kbsyncd.host"], "box1", "host")
    t.is(mine["kbsyncd.version"], "9.9.9", "the daemon's version")
    t.is(mine["KBC.description"], kbc.provenance_description("sales/orders.csv", "box1"), "a description")
    t.like(mine["KBC.description"], "sales/orders%.csv on box1", "the description names the file and host")
    t.is(r.description_kept_of, nil, "no one else's description to keep")
    t.is(r.keys, 7, "seven keys sent")
    -- A second load updates the same keys (no duplicates).
    c:write_provenance("in.c-sales.orders", { path = "sales/orders.csv", size = 99, fingerprint = "x", rows = 1, host = "box1" })
    t.is(#stored, 7, "a later load updates the keys in place")
    t.is(by_key(stored, "kbsyncd")["kbsyncd.source.bytes"], "99", "with the new size")
end

do -- a description a person set (provider user) is never overwritten
    local route, stored, posted = metadata_api({
        { id = "1", key = "KBC.description", value = "Orders from the shop, cleaned by Ann", provider = "user" } })
    local c = client(route)
    local r = c:write_provenance("in.c-s.t", { path = "s/t.csv", size = 1, fingerprint = "f", rows = 1, host = "h" })
    t.is(r and r.description_kept_of, "user", "says whose description was kept")
    for _, e in ipairs(posted[1].metadata) do
        t.isnt(e.key, "KBC.description", "no description sent over the user's")
    end
    t.is(by_key(stored, "user")["KBC.description"], "Orders from the shop, cleaned by Ann", "the user's text stays")
    t.is(by_key(stored, "kbsyncd")["kbsyncd.source.path"], "s/t.csv", "the facts are still written")
end

do -- an empty description of another provider does not block ours
    local route, stored = metadata_api({ { id = "1", key = "KBC.description", value = "", provider = "user" } })
    local c = client(route)
    c:write_provenance("in.c-s.t", { path = "s/t.csv", size = 1, fingerprint = "f", rows = 1, host = "h" })
    t.ok(by_key(stored, "kbsyncd")["KBC.description"], "an empty description is not a person's text")
end

do -- a failed write is an error the caller can log, after the retry policy
    local c = client(function(req)
        if req.method == "GET" then return json(200, {}) end
        return json(403, { error = "You don't have access to the resource.", code = "accessDenied" })
    end)
    local r, err = c:write_provenance("in.c-s.t", { path = "p", size = 1, fingerprint = "f", rows = 1, host = "h" })
    t.is(r, nil, "no result when the POST is refused")
    t.is(err and err.status, 403, "the error carries the status")
end

do -- the deprecated array answer is read too
    local c = client(function() return json(201, { { id = "1", key = "k", value = "v", provider = "kbsyncd" } }) end)
    local list = c:set_table_metadata("in.c-s.t", "kbsyncd", { { key = "k", value = "v" } })
    t.is(list and list[1].key, "k", "a plain array answer gives the list")
end

do -- the host name: $HOSTNAME or the kernel's
    local c = client(function() return json(200, {}) end)
    c.deps.fs = { read = function(path) return path == "/proc/sys/kernel/hostname" and "kernelbox\n" or nil end }
    local ok, env = pcall(require, "host.env")
    local want = ok and env.get("HOSTNAME") or nil
    if want == nil or want == "" then want = "kernelbox" end
    t.is(c:host_name(), want, "host name from HOSTNAME, else /proc/sys/kernel/hostname (newline dropped)")
end

---------------------------------------------------------------- branches

local BRANCHES = {
    { id = 101, name = "Main", isDefault = true },
    { id = 345, name = "try-sales", isDefault = false },
    { id = 346, name = "777", isDefault = false },
}

local function branch_api(seen)
    return function(req)
        seen[#seen + 1] = req.method .. " " .. req.url:gsub("^https://connection.example.com", "")
        if req.url:find("/dev%-branches$") then return json(200, BRANCHES) end
        if req.url:find("/tokens/verify$") then return json(200, { id = "1", owner = { id = 1 } }) end
        if req.url:find("/buckets$") then return json(200, {}) end
        if req.url:find("/jobs/") then return json(200, { id = 9, status = "success", results = {} }) end
        return json(201, { id = 7 })
    end
end

do -- a branch given by name: looked up once, then every call is scoped
    local seen = {}
    local c = client(branch_api(seen), { branch = "try-sales" })
    t.is(c:branch(), nil, "not looked up before the first call")
    t.ok(c:verify_token(), "verify in the branch")
    c:list_buckets()
    c:prepare_file("t.csv", 3)
    c:webalize({ "a" })
    c:wait_job({ id = 9, status = "processing" })
    t.is(seen[1], "GET /v2/storage/dev-branches", "the branch is looked up first")
    t.is(seen[2], "GET /v2/storage/branch/345/tokens/verify", "token verify in the branch")
    t.is(seen[3], "GET /v2/storage/branch/345/buckets", "buckets in the branch")
    t.is(seen[4], "POST /v2/storage/branch/345/files/prepare", "files in the branch")
    t.is(seen[5], "POST /v2/storage/branch/345/webalize/column-names", "webalize in the branch")
    t.is(seen[6], "GET /v2/storage/jobs/9", "jobs are never scoped")
    t.is(#seen, 6, "one look-up in all")
    t.is(c:branch().id, 345, "branch() says the id")
    t.is(c:branch().name, "try-sales", "and the name")
end

do -- by id, an id before a name made of digits, the default branch
    local seen = {}
    local c = client(branch_api(seen), { branch = "346" })
    t.is(c:resolve_branch().name, "777", "an id wins")
    local c2 = client(branch_api({}), { branch = "777" })
    t.is(c2:resolve_branch().id, 346, "a name made of digits that is no id is a name")
    local seen3 = {}
    local c3 = client(branch_api(seen3), { branch = "Main" })
    t.ok(c3:resolve_branch().is_default, "Main is the default branch")
    c3:list_buckets()
    t.is(seen3[2], "GET /v2/storage/buckets", "the default branch uses the plain paths")
    local seen4 = {}
    local c4 = client(branch_api(seen4))
    c4:list_buckets()
    t.is(seen4[1], "GET /v2/storage/buckets", "no branch set: plain paths, no look-up")
    t.ok(c4:resolve_branch().production, "and resolve_branch says production")
end

do -- a branch that does not exist: a permanent error naming those there are
    local seen = {}
    local c = client(branch_api(seen), { branch = "nope" })
    local v, err = c:list_buckets()
    t.is(v, nil, "no call without its branch")
    t.is(err and err.code, "branch_not_found", "branch_not_found")
    t.is(err and err.kind, "permanent", "permanent")
    t.like(tostring(err), "try%-sales %(id 345%)", "the message lists the branches")
    t.is(#seen, 1, "nothing sent to production instead")
end

t.done()
