-- keboola/upload/s3.lua - upload to S3 with the STS credentials of a
-- files/prepare answer (provider "aws").
--
-- libcurl signs each request (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3").
-- libcurl 7.88 neither adds x-amz-content-sha256 nor sorts or completes the
-- query before signing, so: we send x-amz-content-sha256: UNSIGNED-PAYLOAD
-- ourselves, write "?uploads=" with its "=", keep query parameters sorted
-- (partNumber before uploadId) and percent-encode the key exactly as SigV4's
-- canonical URI wants it (url.encode keeps only unreserved characters and
-- "/"), so what libcurl signs is what S3 recomputes.
--
-- Up to upload.s3_single_max bytes: one PUT. Above: multipart upload
-- (CreateMultipartUpload, UploadPart per s3_part_size range, upload.parallel
-- of them in flight, each streamed from its byte range of the spool file and
-- retried on its own, CompleteMultipartUpload); AbortMultipartUpload when
-- giving up, so no invisible parts stay billed. A broken connection costs
-- the part it carried, nothing more.
local common = require "keboola.upload.common"
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}

local MIN_PART = 5 * 1024 * 1024 -- S3's minimum for every part but the last
local MAX_PARTS = 10000

-- Path-style ENDPOINT/BUCKET/KEY when an endpoint override is set (moto,
-- proxies); virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY else.
function M.object_url(params, region, endpoint)
    local key = url.encode(params.key, true)
    if endpoint then
        return url.normalize_base(endpoint) .. "/" .. url.encode(params.bucket) .. "/" .. key
    end
    return "https://" .. params.bucket .. ".s3." .. region .. ".amazonaws.com/" .. key
end

-- Everything needed to sign and send, from the prepare answer.
function M.session(file, endpoint)
    local p = file.uploadParams
    if type(p) ~= "table" or type(p.credentials) ~= "table" then
        return nil, "files/prepare answer has no uploadParams.credentials"
    end
    local c = p.credentials
    local region = file.region or "us-east-1"
    return {
        url = M.object_url(p, region, endpoint),
        sigv4 = "aws:amz:" .. region .. ":s3",
        userpwd = tostring(c.AccessKeyId) .. ":" .. tostring(c.SecretAccessKey),
        session_token = c.SessionToken,
        sse = p["x-amz-server-side-encryption"],
        acl = p.acl,
        secrets = { c.SecretAccessKey, c.SessionToken },
    }
end

local function headers(s, with_object_headers, extra)
    local h = {
        ["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD",
        ["x-amz-security-token"] = s.session_token,
    }
    -- ACL and encryption belong to the request that creates the object:
    -- the single PUT or CreateMultipartUpload, not the parts.
    if with_object_headers then
        h["x-amz-server-side-encryption"] = s.sse
        h["x-amz-acl"] = s.acl
        h["Content-Type"] = "application/octet-stream"
    end
    for k, v in pairs(extra or {}) do h[k] = v end
    return h
end

local function request(s, method, query, hdrs)
    return {
        method = method, url = query and (s.url .. "?" .. query) or s.url,
        headers = hdrs, aws_sigv4 = s.sigv4, userpwd = s.userpwd, secrets = s.secrets,
    }
end

local function put_single(ctx, s, path, size)
    return ctx.policy:run("PUT s3 object", function()
        local req = common.file_body(request(s, "PUT", nil, headers(s, true)), path, 0, size)
        return common.request(ctx, req)
    end)
end

local function create_multipart(ctx, s)
    return ctx.policy:run("POST s3 uploads", function()
        local req = request(s, "POST", "uploads=", headers(s, true))
        req.body = ""
        local status, _, body = common.request(ctx, req)
        if not status then return nil, _ end
        local id = common.xml_text(body, "UploadId")
        if not id or id == "" then
            return nil, errors.new({ kind = "retryable",
                code = "s3.noUploadId", message = "CreateMultipartUpload answer has no UploadId",
                op = "POST " .. url.path_of(s.url) })
        end
        return id
    end)
end

local function upload_part(ctx, s, upload_id, n, path, offset, length)
    local query = url.query({ partNumber = n, uploadId = upload_id })
    return ctx.policy:run("PUT s3 part " .. n, function()
        local req = common.file_body(request(s, "PUT", query, headers(s, false)),
            path, offset, length)
        local status, h = common.request(ctx, req)
        if not status then return nil, h end
        return h.etag or ""
    end)
end

local function complete_multipart(ctx, s, upload_id, etags)
    local xml = { "<CompleteMultipartUpload>" }
    for n, etag in ipairs(etags) do
        xml[#xml + 1] = string.format("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
            n, etag)
    end
    xml[#xml + 1] = "</CompleteMultipartUpload>"
    local body = table.concat(xml)
    local query = url.query({ uploadId = upload_id })
    return ctx.policy:run("POST s3 complete", function()
        local req = request(s, "POST", query,
            headers(s, false, { ["Content-Type"] = "application/xml" }))
        req.body = body
        local status, h, rbody = common.request(ctx, req)
        if not status then return nil, h end
        -- S3 may answer 200 and still report an error in the body.
        if rbody:find("<Error>", 1, true) then
            local e = errors.from_cloud_response(500, h, rbody, "POST " .. url.path_of(s.url),
                s.secrets)
            return nil, e
        end
        return true
    end)
end

-- Best effort, a few attempts: the upload already failed, this only tidies.
local function abort_multipart(ctx, s, upload_id)
    local query = url.query({ uploadId = upload_id })
    for _ = 1, 3 do
        local req = request(s, "DELETE", query, headers(s, false))
        local status = common.request(ctx, req, { [200] = true, [204] = true, [404] = true })
        if status then return true end
    end
    if ctx.log then ctx.log.warn("s3_abort_failed", { upload_id = upload_id }) end
end

-- CreateMultipartUpload, the parts, CompleteMultipartUpload (or Abort).
-- each_part(put) sends every part through put(n, path, offset, length) and
-- returns true, {etag per n}[, size] or nil, err. Returns true, parts, size.
local function put_multipart(ctx, s, each_part)
    local upload_id, err = create_multipart(ctx, s)
    if not upload_id then return nil, err end
    -- Until it is completed or aborted, the upload is listed where the
    -- client can abort it when the daemon stops before it ends (its task
    -- is then cancelled, and could not tidy up itself).
    local unfinished = ctx.unfinished or {}
    unfinished[upload_id] = function() abort_multipart(ctx, s, upload_id) end
    local ok, etags, size = each_part(function(n, path, offset, length)
        return upload_part(ctx, s, upload_id, n, path, offset, length)
    end)
    if ok then ok, err = complete_multipart(ctx, s, upload_id, etags) else err = etags end
    unfinished[upload_id] = nil
    if not ok then
        abort_multipart(ctx, s, upload_id)
        return nil, err
    end
    return true, #etags, size
end

local function part_size_for(cfg, size)
    return common.part_size(size, math.max(cfg.s3_part_size, MIN_PART), MAX_PARTS, 1024 * 1024)
end

local function open_session(ctx, file)
    local s, why = M.session(file, ctx.s3_endpoint)
    if not s then
        return nil, errors.new({ kind = "permanent",
            code = "prepare.invalid", message = why, op = "s3 upload" })
    end
    return s
end

-- upload(ctx, file, path, size) yields; true, parts or nil, err.
function M.upload(ctx, file, path, size)
    local s, err = open_session(ctx, file)
    if not s then return nil, err end
    local cfg = ctx.upload
    if size <= cfg.s3_single_max then
        local ok, perr = put_single(ctx, s, path, size)
        if not ok then return nil, perr end
        return true, 1
    end
    local part = part_size_for(cfg, size)
    return put_multipart(ctx, s, function(put)
        return common.run_parts(common.part_count(size, part), cfg.parallel, function(n)
            local offset = (n - 1) * part
            return put(n, path, offset, math.min(part, size - offset))
        end)
    end)
end

-- upload_stream(ctx, file, source) yields: a multipart upload of a file
-- still being written (common.stream_parts), whatever its final size.
-- Returns true, parts, size or nil, err.
function M.upload_stream(ctx, file, source)
    local s, err = open_session(ctx, file)
    if not s then return nil, err end
    local cfg = ctx.upload
    -- The smallest parts S3 allows (for the estimated size): what is left
    -- when the writer ends is one part on one connection, so a small last
    -- part keeps the upload's tail after staging short.
    local part = common.part_size(source.estimate, MIN_PART, MAX_PARTS, 1024 * 1024)
    return put_multipart(ctx, s, function(put)
        return common.stream_parts(source, part, cfg.parallel, put)
    end)
end

return M
