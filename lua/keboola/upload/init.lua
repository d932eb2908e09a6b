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

-- upload(ctx, file, path, size) yields. ctx: {transport, policy, log,
-- upload (thresholds), s3_endpoint, gcs_endpoint, refresh = fn(file_id)}.
-- Returns true, parts or nil, err.
function M.upload(ctx, file, path, size)
    local name = uploaders[file.provider]
    if not name then
        return nil, errors.new({ kind = "permanent", code = "provider.unsupported",
            message = "files/prepare names an unknown provider " .. tostring(file.provider),
            op = "upload" })
    end
    return require(name).upload(ctx, file, path, size)
end

return M
