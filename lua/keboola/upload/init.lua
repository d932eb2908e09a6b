-- keboola/upload/init.lua - moves the bytes of a prepared file to the cloud
-- the files/prepare answer names in `provider` (the only authoritative
-- source: all official clients branch on it and nothing else).
local errors = require "keboola.errors"

local M = {}

local uploaders = {
    aws = "keboola.upload.s3",
    azure = "keboola.upload.abs",
    gcp = "keboola.upload.gcs",
}

local function uploader(file)
    local name = uploaders[file.provider]
    if not name then
        return nil, errors.new({ kind = "permanent", code = "provider.unsupported",
            message = "files/prepare names an unknown provider " .. tostring(file.provider),
            op = "upload" })
    end
    return require(name)
end

-- upload(ctx, file, path, size) yields. ctx: {transport, policy, log,
-- upload (thresholds), s3_endpoint, gcs_endpoint, refresh = fn(file_id)}.
-- Returns true, parts or nil, err.
function M.upload(ctx, file, path, size)
    local up, err = uploader(file)
    if not up then return nil, err end
    return up.upload(ctx, file, path, size)
end

-- upload_stream(ctx, file, source) yields: the same for a file still being
-- written (source: keboola.upload.common): S3 parts, Azure blocks and GCS
-- chunks go up as their bytes appear. Returns true, parts, size or nil, err.
function M.upload_stream(ctx, file, source)
    local up, err = uploader(file)
    if not up then return nil, err end
    return up.upload_stream(ctx, file, source)
end

return M
