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

-- Runs part(n) for n = 1..count, at most `parallel` at a time, each worker
-- a host task of its own (its requests then overlap on the wire: one TCP
-- stream per part in flight, as the official clients do). part(n) yields
-- and returns a value or nil, err; its retries are its own (the client's
-- retry policy). After the first failure no new part starts; the ones in
-- flight finish. Returns true, {value per n} or nil, err. The caller waits
-- on an event the workers notify as they end: no polling.
function M.run_parts(count, parallel, part)
    local results = {}
    if parallel <= 1 or count <= 1 then
        for n = 1, count do
            local value, err = part(n)
            if value == nil then return nil, err end
            results[n] = value
        end
        return true, results
    end
    local task = require "host.task"
    local ended = task.event()
    local next_n, running, failed = 1, 0, nil
    local function worker()
        while not failed and next_n <= count do
            local n = next_n
            next_n = n + 1
            -- A raise must not leave the caller waiting for this worker.
            local ok, value, err = pcall(part, n)
            if not ok then
                failed = failed or errors.new({ kind = "permanent", code = "upload.part_raised",
                    message = tostring(value), op = "upload part " .. n })
            elseif value == nil then
                failed = failed or err
            else
                results[n] = value
            end
        end
        running = running - 1
        ended:notify()
    end
    running = math.min(parallel, count)
    for _ = 1, running do task.spawn(worker) end
    while running > 0 do ended:wait() end
    if failed then return nil, failed end
    return true, results
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
    local task = require "host.task"
    local ended = task.event()
    local results, count, size, failed = {}, nil, nil, nil
    local next_n, running = 1, 0
    local function take_part()
        local n = next_n
        if count and n > count then return nil end
        next_n = n + 1
        local offset = (n - 1) * part_size
        local have, final = M.wait_for(source, offset + part_size)
        if failed then return nil end -- another part failed while this one waited
        if have == nil then
            failed = failed or final
            return nil
        end
        if final then
            size, count = final, math.max(1, M.part_count(final, part_size))
            if n > count then return nil end
            return n, offset, math.min(part_size, final - offset)
        end
        return n, offset, part_size
    end
    local function worker()
        while not failed do
            local n, offset, length = take_part()
            if not n then break end
            local ok, value, err = pcall(put, n, source:path(), offset, length)
            if not ok then
                failed = failed or errors.new({ kind = "permanent", code = "upload.part_raised",
                    message = tostring(value), op = "upload part " .. n })
            elseif value == nil then
                failed = failed or err
            else
                results[n] = value
            end
        end
        running = running - 1
        ended:notify()
    end
    running = math.max(1, parallel)
    for _ = 1, running do task.spawn(worker) end
    while running > 0 do ended:wait() end
    if failed then return nil, failed end
    return true, results, size
end

-- Reads a single XML element's text (S3/Azure answers are tiny and flat).
function M.xml_text(body, tag)
    return body and body:match("<" .. tag .. ">([^<]*)</" .. tag .. ">")
end

return M
