-- keboola/upload/abs.lua - upload to Azure Blob Storage with the container
-- SAS of a files/prepare answer (provider "azure").
--
-- Up to upload.abs_single_max bytes: one Put Blob (x-ms-blob-type:
-- BlockBlob). Above: Put Block per abs_block_size range, upload.parallel of
-- them in flight, each streamed from its byte range of the spool file and
-- retried on its own (re-putting a block id simply replaces it, so a broken
-- connection costs the block it carried), then Put Block List. Block
-- ids are base64 of fixed-width strings: Azure wants every id of a blob to
-- have the same length.
local base64 = require "keboola.base64"
local common = require "keboola.upload.common"
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}

M.API_VERSION = "2021-08-06"
local MAX_BLOCKS = 50000

-- "BlobEndpoint=https://x.blob.core.windows.net;SharedAccessSignature=sv=..."
-- → {BlobEndpoint = ..., SharedAccessSignature = ...}. Pairs split on ";",
-- each on its first "=" (the SAS itself is full of "=").
function M.parse_connection_string(s)
    local out = {}
    for pair in tostring(s or ""):gmatch("[^;]+") do
        local k, v = pair:match("^%s*([^=]-)%s*=(.*)$")
        if k and k ~= "" then out[k] = v end
    end
    if not out.BlobEndpoint or out.BlobEndpoint == ""
        or not out.SharedAccessSignature or out.SharedAccessSignature == "" then
        return nil, "SAS connection string lacks BlobEndpoint or SharedAccessSignature"
    end
    out.BlobEndpoint = out.BlobEndpoint:gsub("/+$", "")
    out.SharedAccessSignature = out.SharedAccessSignature:gsub("^%?", "")
    return out
end

-- The block id of the n-th block (1-based).
function M.block_id(n)
    return base64.encode(string.format("block-%08d", n))
end

function M.session(file)
    local p = file.absUploadParams
    if type(p) ~= "table" or type(p.absCredentials) ~= "table" then
        return nil, "files/prepare answer has no absUploadParams.absCredentials"
    end
    local conn, why = M.parse_connection_string(p.absCredentials.SASConnectionString)
    if not conn then return nil, why end
    local sas = conn.SharedAccessSignature
    local sig = sas:match("[?&]?sig=([^&]*)")
    return {
        url = conn.BlobEndpoint .. "/" .. url.encode(p.container) .. "/"
            .. url.encode(p.blobName, true),
        sas = sas,
        secrets = { sas, sig },
    }
end

local function request(s, method, query, hdrs)
    local q = query and (query .. "&" .. s.sas) or s.sas
    local h = { ["x-ms-version"] = M.API_VERSION }
    for k, v in pairs(hdrs or {}) do h[k] = v end
    return { method = method, url = s.url .. "?" .. q, headers = h, secrets = s.secrets }
end

local function put_blob(ctx, s, path, size)
    return ctx.policy:run("PUT abs blob", function()
        local req = common.file_body(request(s, "PUT", nil, {
            ["x-ms-blob-type"] = "BlockBlob",
            ["Content-Type"] = "application/octet-stream",
        }), path, 0, size)
        return common.request(ctx, req)
    end)
end

local function put_block(ctx, s, n, path, offset, length)
    local query = "comp=block&blockid=" .. url.encode(M.block_id(n))
    return ctx.policy:run("PUT abs block " .. n, function()
        local req = common.file_body(request(s, "PUT", query, {
            ["Content-Type"] = "application/octet-stream",
        }), path, offset, length)
        return common.request(ctx, req)
    end)
end

local function put_block_list(ctx, s, count)
    local xml = { '<?xml version="1.0" encoding="utf-8"?><BlockList>' }
    for n = 1, count do xml[#xml + 1] = "<Latest>" .. M.block_id(n) .. "</Latest>" end
    xml[#xml + 1] = "</BlockList>"
    local body = table.concat(xml)
    return ctx.policy:run("PUT abs blocklist", function()
        local req = request(s, "PUT", "comp=blocklist", {
            ["Content-Type"] = "application/xml",
            ["x-ms-blob-content-type"] = "application/octet-stream",
        })
        req.body = body
        return common.request(ctx, req)
    end)
end

local function open_session(file)
    local s, why = M.session(file)
    if not s then
        return nil, errors.new({ kind = "permanent", code = "prepare.invalid",
            message = why, op = "abs upload" })
    end
    return s
end

-- The blocks (each_part sends them through put(n, path, offset, length) and
-- returns true, {per n}[, size] or nil, err), then Put Block List.
-- Returns true, blocks, size.
local function put_blocks(ctx, s, each_part)
    local ok, done, size = each_part(function(n, path, offset, length)
        return put_block(ctx, s, n, path, offset, length)
    end)
    if not ok then return nil, done end
    local err
    ok, err = put_block_list(ctx, s, #done)
    if not ok then return nil, err end
    return true, #done, size
end

-- upload(ctx, file, path, size) yields; true, parts or nil, err.
function M.upload(ctx, file, path, size)
    local s, err = open_session(file)
    if not s then return nil, err end
    local cfg = ctx.upload
    if size <= cfg.abs_single_max then
        local ok, perr = put_blob(ctx, s, path, size)
        if not ok then return nil, perr end
        return true, 1
    end
    local block = common.part_size(size, cfg.abs_block_size, MAX_BLOCKS, 1024)
    return put_blocks(ctx, s, function(put)
        return common.run_parts(common.part_count(size, block), cfg.parallel, function(n)
            local offset = (n - 1) * block
            return put(n, path, offset, math.min(block, size - offset))
        end)
    end)
end

-- upload_stream(ctx, file, source) yields: blocks of a file still being
-- written (common.stream_parts). Returns true, blocks, size or nil, err.
function M.upload_stream(ctx, file, source)
    local s, err = open_session(file)
    if not s then return nil, err end
    local cfg = ctx.upload
    local block = common.part_size(source.estimate, cfg.abs_block_size, MAX_BLOCKS, 1024)
    return put_blocks(ctx, s, function(put)
        return common.stream_parts(source, block, cfg.parallel, put)
    end)
end

return M
