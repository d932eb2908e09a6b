-- keboola/errors.lua - the error objects every client call returns.
--
-- A failure is always `nil, err` where err is a table with this module's
-- metatable:
--   kind          "retryable" | "permanent" | "auth"
--   status        HTTP status (nil for transport failures)
--   code          API code ("storage.buckets.alreadyExists", "SlowDown", ...)
--                 or the transport class ("timeout", "connect", ...)
--   message       readable text (never a secret: see redact)
--   exception_id  Keboola's exceptionId when the API sent one
--   op            "METHOD /path" without the query string (the query may
--                 carry an Azure SAS signature)
--   retry_after_s seconds from a Retry-After header, when present
--   attempts      how many attempts the retry policy made
-- tostring(err) gives one line for logs:
--   retryable: HTTP 503 storage.maintenance: Down for upgrade (POST /v2/storage/buckets)
-- Pure Lua, no host modules: unit-testable with plain lua5.4.
local cjson = require "cjson"

local M = {}

local Error = {}
Error.__index = Error
M.Error = Error

function Error:__tostring()
    local parts = { self.kind .. ":" }
    if self.status then parts[#parts + 1] = "HTTP " .. self.status end
    local code = self.code and tostring(self.code)
    local msg = self.message
    if code and code ~= "" then
        parts[#parts + 1] = code .. ":"
    end
    parts[#parts + 1] = (msg and msg ~= "") and msg or "(no message)"
    local line = table.concat(parts, " ")
    if self.exception_id then line = line .. " [" .. self.exception_id .. "]" end
    if self.op then line = line .. " (" .. self.op .. ")" end
    -- One line, whatever the server sent.
    return (line:gsub("[\r\n]+", " "))
end

function M.is_error(v) return getmetatable(v) == Error end

-- Replaces every occurrence of each secret in text by "***". Secrets are
-- matched literally (no patterns); short strings are ignored so that a
-- one-letter "secret" cannot garble messages.
function M.redact(text, secrets)
    if type(text) ~= "string" or not secrets then return text end
    for _, s in pairs(secrets) do
        if type(s) == "string" and #s >= 6 then
            local from = 1
            while true do
                local i, j = text:find(s, from, true)
                if not i then break end
                text = text:sub(1, i - 1) .. "***" .. text:sub(j + 1)
                from = i + 3
            end
        end
    end
    return text
end

-- fields: kind, status, code, message, exception_id, op, retry_after_s.
-- secrets (optional list) are scrubbed from message and op.
function M.new(fields, secrets)
    local e = setmetatable({}, Error)
    for k, v in pairs(fields) do e[k] = v end
    assert(e.kind == "retryable" or e.kind == "permanent" or e.kind == "auth",
        "error kind must be retryable, permanent or auth")
    if e.code ~= nil then e.code = tostring(math.tointeger(e.code) or e.code) end
    e.message = M.redact(e.message, secrets)
    e.op = M.redact(e.op, secrets)
    return e
end

-- "METHOD /path" from a full URL, dropping scheme, host and query.
function M.op_name(method, url)
    local path = url:gsub("^%a[%w+.-]*://[^/]*", ""):gsub("[?#].*$", "")
    if path == "" then path = "/" end
    return (method or "GET") .. " " .. path
end

-- The one classification of HTTP statuses (DESIGN 2.3 step 6):
-- 408, 423, 429 and every 5xx except 501 are worth retrying; 401 means the
-- credentials are refused; anything else (400, 403, 404, 409, 422, 501)
-- will fail the same way again.
function M.kind_of_status(status)
    if status == 401 then return "auth" end
    if status == 408 or status == 423 or status == 429 then return "retryable" end
    if status >= 500 and status ~= 501 then return "retryable" end
    return "permanent"
end

-- Transport failures from host.http come as "class: libcurl text".
-- Network trouble is retryable (the daemon keeps going while offline);
-- a missing spool file, a bad option or a cancelled task is not. TLS
-- failures are retryable unless the certificate itself was refused, which
-- no amount of waiting fixes.
local transport_kinds = {
    timeout = "retryable", connect = "retryable", dns = "retryable",
    network = "retryable", tls = "retryable",
    file = "permanent", body_too_large = "permanent",
    cancelled = "permanent", invalid = "permanent",
}

function M.from_transport(msg, op, secrets)
    msg = tostring(msg)
    local class, rest = msg:match("^([%w_]+):%s*(.*)$")
    local kind = class and transport_kinds[class] or "retryable"
    if class == "tls" and (rest or ""):lower():find("certificate", 1, true) then
        kind = "permanent"
    end
    return M.new({ kind = kind, code = class or "network",
                   message = rest or msg, op = op }, secrets)
end

local function retry_after_seconds(headers)
    local v = headers and headers["retry-after"]
    local n = v and tonumber(v)
    -- An HTTP date is legal too; without a date parser we ignore it and
    -- let the back-off decide.
    if n and n >= 0 then return n end
    return nil
end

-- Cloud services answer in XML (S3, Azure): pull <Code> and <Message>.
local function parse_xml_error(body)
    local code = body:match("<Code>([^<]*)</Code>")
    local message = body:match("<Message>([^<]*)</Message>")
    if code or message then return code, message end
end

local function json_value(v)
    if v == cjson.null then return nil end
    return v
end

-- Builds the error for a non-2xx answer. The body may be Keboola JSON
-- ({"error","code","exceptionId"}), a maintenance body ({"status":
-- "maintenance","reason"}), Google JSON ({"error":{"code","message"}}),
-- cloud XML, or anything a proxy sends.
function M.from_response(status, headers, body, op, secrets)
    local code, message, exception_id
    body = body or ""
    local ok, doc = pcall(cjson.decode, body)
    if ok and type(doc) == "table" then
        local e = json_value(doc.error)
        if type(e) == "table" then -- Google style: code repeats the status
            message = json_value(e.message)
            local first = type(e.errors) == "table" and type(e.errors[1]) == "table"
                and e.errors[1] or {}
            code = json_value(e.status) or json_value(first.reason)
        else
            message = e
            code = json_value(doc.code)
        end
        exception_id = json_value(doc.exceptionId)
        if json_value(doc.status) == "maintenance" then
            code = code or "maintenance"
            message = message or json_value(doc.reason) or "Storage is under maintenance"
        end
    elseif body:find("<", 1, true) then
        code, message = parse_xml_error(body)
    end
    if not message or message == "" then
        message = body:sub(1, 200):gsub("%s+", " ")
        if message == "" then message = "HTTP " .. status end
    end
    if type(message) ~= "string" then message = cjson.encode(message) end
    return M.new({
        kind = M.kind_of_status(status), status = status, code = code,
        message = message, exception_id = exception_id, op = op,
        retry_after_s = retry_after_seconds(headers),
    }, secrets)
end

-- Cloud answers need a second look: S3 says "try again" with a 400
-- RequestTimeout, and refused upload credentials come as 403 with a code
-- rather than as 401. Refused credentials are "auth" (the upload cannot
-- go on with them; a new files/prepare gives new ones).
local cloud_auth_codes = {
    ExpiredToken = true, InvalidToken = true, TokenRefreshRequired = true,
    InvalidAccessKeyId = true, SignatureDoesNotMatch = true,
    AuthenticationFailed = true, InvalidClientTokenId = true,
}
local cloud_retry_codes = {
    RequestTimeout = true, SlowDown = true, InternalError = true,
    ServiceUnavailable = true, OperationTimedOut = true, ServerBusy = true,
}

function M.from_cloud_response(status, headers, body, op, secrets)
    local e = M.from_response(status, headers, body, op, secrets)
    if e.code and cloud_auth_codes[e.code] then
        e.kind = "auth"
    elseif e.code and cloud_retry_codes[e.code] then
        e.kind = "retryable"
    end
    return e
end

return M
