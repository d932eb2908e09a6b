-- keboola/upload/gcs.lua - upload to Google Cloud Storage with the OAuth
-- token of a files/prepare answer (provider "gcp").
--
-- Up to upload.gcs_single_max bytes: one media upload
--   POST {base}/upload/storage/v1/b/BUCKET/o?uploadType=media&name=KEY
-- Above: a resumable session (POST ...uploadType=resumable → Location), then
-- PUT chunks of gcs_chunk_size (a multiple of 256 KiB, as GCS requires) with
-- Content-Range. 308 + "Range: bytes=0-N" means N+1 bytes are committed.
-- After a failed chunk we ask the session where it stands (PUT with
-- "Content-Range: bytes */TOTAL") and resume from the committed offset, so a
-- broken connection costs at most one chunk. A vanished session (404/410)
-- starts a new one. A file still being written (upload_stream) goes the
-- same way with "bytes A-B/*" until its total is known.
--
-- The token lives ~1 h. A 401 calls files/{id}/refresh and continues with
-- the new token; a 401 right after a refresh is reported as "auth".
local common = require "keboola.upload.common"
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}

local QUANTUM = 256 * 1024

function M.base_url(endpoint)
    return endpoint and url.normalize_base(endpoint) or "https://storage.googleapis.com"
end

-- Mutable credentials holder: refresh replaces the token in place.
local function session(file, endpoint)
    local p = file.gcsUploadParams
    if type(p) ~= "table" or not p.access_token then
        return nil, "files/prepare answer has no gcsUploadParams.access_token"
    end
    return {
        file_id = file.id,
        upload_url = M.base_url(endpoint) .. "/upload/storage/v1/b/" .. url.encode(p.bucket) .. "/o",
        key = p.key,
        token_type = p.token_type or "Bearer",
        token = p.access_token,
        secrets = { p.access_token },
        refreshed = false, -- a refresh happened since the last success
    }
end

local function auth_header(s, h)
    h = h or {}
    h["Authorization"] = s.token_type .. " " .. s.token
    return h
end

-- Runs one request; on 401 refreshes the token once and reports a
-- retryable error with no delay, so the policy repeats at once.
local function send(ctx, s, req, ok_statuses)
    req.secrets = s.secrets
    local status, h, body = common.request(ctx, req, ok_statuses)
    if status then
        s.refreshed = false
        return status, h, body
    end
    local err = h
    if err.status ~= 401 then return nil, err end
    if s.refreshed then
        err.kind = "auth"
        err.message = "GCS refused a freshly refreshed token: " .. (err.message or "")
        return nil, err
    end
    local fresh, rerr = ctx.refresh(s.file_id)
    if not fresh then return nil, rerr end
    local p = fresh.gcsUploadParams
    if type(p) ~= "table" or not p.access_token then
        return nil, errors.new({ kind = "permanent", code = "refresh.invalid",
            message = "files/refresh answer has no gcsUploadParams.access_token",
            op = "PUT /v2/storage/files/" .. tostring(s.file_id) .. "/refresh" })
    end
    s.token, s.token_type = p.access_token, p.token_type or s.token_type
    s.secrets[#s.secrets + 1] = p.access_token
    s.refreshed = true
    if ctx.log then ctx.log.info("gcs_token_refreshed", { file_id = s.file_id }) end
    err.kind, err.retry_after_s = "retryable", 0
    return nil, err
end

local function media_upload(ctx, s, path, size)
    local u = url.with_query(s.upload_url, { uploadType = "media", name = s.key })
    return ctx.policy:run("POST gcs media", function()
        local req = common.file_body({ method = "POST", url = u,
            headers = auth_header(s, { ["Content-Type"] = "application/octet-stream" }) },
            path, 0, size)
        return send(ctx, s, req)
    end)
end

-- size: nil when not known yet (a file still being written).
local function start_session(ctx, s, size)
    local u = url.with_query(s.upload_url, { uploadType = "resumable", name = s.key })
    return ctx.policy:run("POST gcs resumable", function()
        local req = { method = "POST", url = u, body = "", headers = auth_header(s, {
            ["Content-Type"] = "application/json; charset=UTF-8",
            ["X-Upload-Content-Type"] = "application/octet-stream",
            ["X-Upload-Content-Length"] = size and tostring(size) or nil,
        }) }
        local status, h = send(ctx, s, req)
        if not status then return nil, h end
        if not h.location then
            return nil, errors.new({ kind = "retryable", code = "gcs.noLocation",
                message = "resumable upload start answered without a Location",
                op = "POST " .. url.path_of(u) })
        end
        return h.location
    end)
end

-- Committed bytes from a 308 answer ("Range: bytes=0-N"; none = 0).
function M.committed(headers)
    local last = headers and headers.range and headers.range:match("bytes=%d+%-(%d+)")
    return last and (tonumber(last) + 1) or 0
end

local RESUME_OK = { [200] = true, [201] = true, [308] = true }

-- Where the session stands: offset, done or nil, err (err.status 404/410:
-- the session is gone). size: nil while the total is not known ("*"); with
-- it, a session holding every byte is finished by this very query.
local function query_status(ctx, s, session_url, size)
    local req = { method = "PUT", url = session_url, body = "", headers = auth_header(s, {
        ["Content-Range"] = "bytes */" .. (size and tostring(size) or "*") }) }
    local status, h = send(ctx, s, req, RESUME_OK)
    if not status then return nil, h end
    if status ~= 308 then return size, true end
    return M.committed(h), false
end

local MAX_SESSION_RESTARTS = 3

-- A file of known size, as a source (keboola.upload.common) that is
-- complete from the start.
local function whole_file(path, size)
    return {
        state = function() return size, size end,
        changed = function() end,
        path = function() return path end,
    }
end

-- The resumable session: chunks of `chunk` bytes in order, each sent once
-- its bytes exist (source: keboola.upload.common); while the total is not
-- known a chunk says "bytes A-B/*", the last one names the total. Returns
-- true, chunks, size or nil, err.
local function resumable_upload(ctx, s, source, chunk, restarts)
    restarts = restarts or 0
    local have, final = source:state()
    if have == nil then return nil, final end
    local session_url, err = start_session(ctx, s, final)
    if not session_url then return nil, err end
    local offset, done, chunks, unsure = 0, false, 0, false
    while not done do
        have, final = common.wait_for(source, offset + chunk)
        if have == nil then return nil, final end
        local ok
        ok, err = ctx.policy:run("PUT gcs chunk", function()
            if unsure then
                local at, finished = query_status(ctx, s, session_url, final)
                if not at then return nil, finished end
                offset, done, unsure = at, finished, false
                if done then return true end
            end
            local length = final and math.min(chunk, final - offset) or chunk
            if length == 0 then
                -- Every byte went up before the total was known: naming it
                -- finishes the upload.
                local at, finished = query_status(ctx, s, session_url, final)
                if not at then unsure = true; return nil, finished end
                offset, done = at, finished
                return true
            end
            local req = common.file_body({ method = "PUT", url = session_url,
                headers = auth_header(s, { ["Content-Range"] = string.format(
                    "bytes %d-%d/%s", offset, offset + length - 1,
                    final and tostring(final) or "*") }) },
                source:path(), offset, length)
            local status, h = send(ctx, s, req, RESUME_OK)
            if not status then
                unsure = true
                return nil, h
            end
            chunks = chunks + 1
            if status == 308 then offset = M.committed(h) else done = true end
            return true
        end)
        if not ok then
            if err and (err.status == 404 or err.status == 410)
                and restarts < MAX_SESSION_RESTARTS then
                -- The session expired or was dropped: start over once more.
                if ctx.log then ctx.log.warn("gcs_session_restart", { file_id = s.file_id }) end
                return resumable_upload(ctx, s, source, chunk, restarts + 1)
            end
            return nil, err
        end
    end
    return true, chunks, final
end

local function chunk_size(cfg)
    return math.max(QUANTUM, cfg.gcs_chunk_size - cfg.gcs_chunk_size % QUANTUM)
end

-- upload(ctx, file, path, size) yields; true, parts or nil, err.
function M.upload(ctx, file, path, size)
    local s, why = session(file, ctx.gcs_endpoint)
    if not s then
        return nil, errors.new({ kind = "permanent", code = "prepare.invalid",
            message = why, op = "gcs upload" })
    end
    local cfg = ctx.upload
    if size <= cfg.gcs_single_max or size == 0 then
        local ok, err = media_upload(ctx, s, path, size)
        if not ok then return nil, err end
        return true, 1
    end
    return resumable_upload(ctx, s, whole_file(path, size), chunk_size(cfg))
end

-- upload_stream(ctx, file, source) yields: a resumable session for a file
-- still being written; each chunk goes up once its bytes exist, the last
-- names the total. Returns true, chunks, size or nil, err.
function M.upload_stream(ctx, file, source)
    local s, why = session(file, ctx.gcs_endpoint)
    if not s then
        return nil, errors.new({ kind = "permanent", code = "prepare.invalid",
            message = why, op = "gcs upload" })
    end
    return resumable_upload(ctx, s, source, chunk_size(ctx.upload))
end

return M
