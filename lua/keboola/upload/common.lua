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

-- Reads a single XML element's text (S3/Azure answers are tiny and flat).
function M.xml_text(body, tag)
    return body and body:match("<" .. tag .. ">([^<]*)</" .. tag .. ">")
end

return M
