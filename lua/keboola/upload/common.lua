-- keboola/upload/common.lua - what the three uploaders share: one cloud
-- request (answer statuses checked, errors classified for clouds), part
-- arithmetic, and the streaming body options.
local errors = require "keboola.errors"

local M = {}

-- One attempt of a cloud request. ok_statuses: set of accepted statuses
-- (default any 2xx). Returns status, headers, body or nil, err.
function M.request(ctx, req, ok_statuses)
    local status, headers, body = ctx.transport:send(req)
    if not status then return nil, headers end
    local accepted
    if ok_statuses then accepted = ok_statuses[status]
    else accepted = status >= 200 and status <= 299 end
    if not accepted then
        return nil, errors.from_cloud_response(status, headers, body,
            errors.op_name(req.method, req.url), req.secrets)
    end
    return status, headers, body
end

-- The body options for the byte range [offset, offset + length) of the
-- spool file. The bytes never enter Lua; an empty range sends "" (a file
-- body of length 0 is not worth a special case in C).
function M.file_body(req, path, offset, length)
    if length == 0 then
        req.body = ""
    else
        req.body_file, req.body_offset, req.body_length = path, offset, length
    end
    return req
end

-- Part size for `size` bytes: the configured one, grown (in whole `unit`s)
-- when the service's part-count limit would otherwise be exceeded.
function M.part_size(size, wanted, max_parts, unit)
    unit = unit or 1
    local part = math.max(unit, wanted - wanted % unit)
    if size > part * max_parts then
        local need = -(-size // max_parts)
        part = -(-need // unit) * unit
    end
    return part
end

-- Number of parts for size bytes (at least 1: an empty file is one part).
function M.part_count(size, part)
    if size == 0 then return 1 end
    return -(-size // part)
end

-- The worker pool of run_parts and stream_parts: `workers` host tasks
-- (their requests then overlap on the wire: one TCP stream per part in
-- flight, as the official clients do), each taking the next part from
-- take(pool) (n and part's further arguments, or nil: no more) and running
-- part(n, ...), which yields and returns a value or nil, err; its retries
-- are its own (the client's retry policy). take may set pool.failed (the
-- source failed). After the first failure no new part starts; the ones in
-- flight finish. The caller waits on an event the workers notify as they
-- end: no polling. Returns true, {value per n} or nil, err.
local function run_pool(workers, take, part)
    local task = require "host.task"
    local ended = task.event()
    local pool = { results = {} }
    local running = workers
    local function worker()
        while not pool.failed do
            local n, a, b, c = take(pool)
            if not n then break end
            -- A raise must not leave the caller waiting for this worker.
            local ok, value, err = pcall(part, n, a, b, c)
            if not ok then
                pool.failed = pool.failed or errors.new({ kind = "permanent",
                    code = "upload.part_raised", message = tostring(value), op = "upload part " .. n })
            elseif value == nil then
                pool.failed = pool.failed or err
            else
                pool.results[n] = value
            end
        end
        running = running - 1
        ended:notify()
    end
    for _ = 1, workers do task.spawn(worker) end
    while running > 0 do ended:wait() end
    if pool.failed then return nil, pool.failed end
    return true, pool.results
end

-- Runs part(n) for n = 1..count, at most `parallel` at a time (run_pool;
-- one after another in the caller's own task when parallel is 1).
-- Returns true, {value per n} or nil, err.
function M.run_parts(count, parallel, part)
    if parallel <= 1 or count <= 1 then
        local results = {}
        for n = 1, count do
            local value, err = part(n)
            if value == nil then return nil, err end
            results[n] = value
        end
        return true, results
    end
    local next_n = 1
    return run_pool(math.min(parallel, count), function()
        if next_n > count then return nil end
        next_n = next_n + 1
        return next_n - 1
    end, part)
end

-- A file still being written, as the uploads see it (the daemon's staging
-- makes one from its stager: sync/spool_feed.lua):
--   source:state()   -> bytes on disk, final size (nil until complete)
--                       | nil, err (the writer failed or gave the upload up)
--   source:changed() yields until the writer wrote more, ended or failed
--   source:path()    where the bytes are read from now (the name changes
--                    once, when the complete file is renamed into place)
--   source.estimate  an upper bound of the final size (for part sizes)
-- Waits until `want` bytes exist or the file is complete; returns what
-- source:state() returns.
function M.wait_for(source, want)
    while true do
        local have, final = source:state()
        if have == nil or final or have >= want then return have, final end
        source:changed()
    end
end

-- run_parts for a source (above): part n is the byte range
-- [(n-1)*part_size, n*part_size) and goes up as soon as its bytes exist,
-- at most `parallel` at a time; the count is known once the file is
-- complete (an empty file is one empty part). put(n, path, offset, length)
-- as part(n) of run_parts. Returns true, {value per n}, size or nil, err.
function M.stream_parts(source, part_size, parallel, put)
    local count, size, next_n = nil, nil, 1
    local ok, results = run_pool(math.max(1, parallel), function(pool)
        local n = next_n
        if count and n > count then return nil end
        next_n = n + 1
        local offset = (n - 1) * part_size
        local have, final = M.wait_for(source, offset + part_size)
        if pool.failed then return nil end -- another part failed while this one waited
        if have == nil then
            pool.failed = final
            return nil
        end
        local length = part_size
        if final then
            size, count = final, M.part_count(final, part_size)
            if n > count then return nil end
            length = math.min(part_size, final - offset)
        end
        return n, source:path(), offset, length
    end, put)
    if not ok then return nil, results end
    return true, results, size
end

-- Reads a single XML element's text (S3/Azure answers are tiny and flat).
function M.xml_text(body, tag)
    return body and body:match("<" .. tag .. ">([^<]*)</" .. tag .. ">")
end

return M
