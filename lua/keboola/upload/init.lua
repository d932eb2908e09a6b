-- keboola/upload/init.lua - moves the bytes of a prepared file to the cloud
-- the files/prepare answer names in `provider` (the only authoritative
-- source: all official clients branch on it and nothing else).
local common = require "keboola.upload.common"
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
-- written (source: keboola.upload.common). S3 and Azure send its parts as
-- they appear; GCS waits for the complete file and uploads it as above (a
-- resumable session of unknown length would allow it too: not done yet).
-- Returns true, parts, size, streamed (false when the upload waited for
-- the complete file) or nil, err.
function M.upload_stream(ctx, file, source)
    local up, err = uploader(file)
    if not up then return nil, err end
    if up.upload_stream then
        local ok, parts, size = up.upload_stream(ctx, file, source)
        if not ok then return nil, parts end
        return true, parts, size, true
    end
    local size, werr = common.until_complete(source)
    if not size then return nil, werr end
    local ok, parts = up.upload(ctx, file, source:path(), size)
    if not ok then return nil, parts end
    return true, parts, size, false
end

return M
