-- keboola/http.lua - JSON calls to the Storage API.
--
-- Adds the base URL, the X-StorageApi-Token and User-Agent headers, encodes
-- the JSON body, decodes the JSON answer and runs each call under the retry
-- policy. Every function here yields (through host.http and host.timer).
--
-- Bodies are JSON (as the PHP and Go clients send). lua-cjson 2.1.0 encodes
-- an empty table as {}, so callers never pass an empty array: they omit the
-- field instead (tags) or send a non-empty list.
local cjson = require "cjson"
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}

local Api = {}
Api.__index = Api

-- opts: {base (normalised), token, user_agent, transport, policy, log}
-- api.branch_id (set once the client resolved keboola.branch; nil = the
-- production branch's plain paths) scopes paths; api.before_scoped, when
-- set, runs before the first scoped call (the branch look-up).
function M.new(opts)
    local api = setmetatable({
        base = opts.base,
        user_agent = opts.user_agent,
        transport = opts.transport,
        policy = opts.policy,
        log = opts.log,
    }, Api)
    -- The token lives in a closure, not a field, so no table dump, log of
    -- the object or error built from it can show the value.
    local token = assert(opts.token, "Storage API token is required")
    function api.secrets() return { token } end
    function api.auth_headers() return { ["X-StorageApi-Token"] = token } end
    return api
end

function Api:__tostring() return "keboola.api(" .. self.base .. ")" end

-- Paths that never take a branch: jobs are the project's and branches are
-- listed at the project (the PHP client's BranchAwareClient leaves jobs
-- unscoped the same way).
local function unscoped(path)
    return path:find("^/v2/storage/jobs/") or path:find("^/v2/storage/jobs$")
        or path:find("^/v2/storage/dev%-branches")
end
M.unscoped = unscoped

-- The path a call really goes to: /v2/storage/branch/{id}/... in a
-- development branch (blueprint, "Development Branches"), else as given.
function Api:scoped(path)
    if self.branch_id == nil or unscoped(path) then return path end
    return "/v2/storage/branch/" .. url.encode(tostring(self.branch_id)) .. path:sub(#"/v2/storage" + 1)
end

-- lua-cjson 2.1.0 decodes JSON null as cjson.null (a truthy light
-- userdata) and every number as a float (44 → 44.0, which would print as
-- "44.0" in a URL). Normalise decoded answers recursively: nulls become nil,
-- integral numbers become integers, so ids print as the API wrote them.
local function normalize(v)
    if v == cjson.null then return nil end
    if math.type(v) == "float" then return math.tointeger(v) or v end
    if type(v) ~= "table" then return v end
    for k, x in pairs(v) do v[k] = normalize(x) end
    return v
end
M.normalize = normalize

-- One attempt. Returns decoded, status or nil, err.
function Api:attempt(method, path, opts)
    local headers = self.auth_headers()
    headers["User-Agent"] = self.user_agent
    headers["Accept"] = "application/json"
    local body
    if opts.json ~= nil then
        body = cjson.encode(opts.json)
        headers["Content-Type"] = "application/json"
    end
    path = self:scoped(path)
    local full = self.base .. path
    if opts.query then full = url.with_query(full, opts.query) end
    local status, rheaders, rbody = self.transport:send({
        method = method, url = full, headers = headers, body = body,
        timeout_ms = opts.timeout_ms, secrets = self.secrets(),
    })
    if not status then return nil, rheaders end
    local op = method .. " " .. path
    if status < 200 or status > 299 then
        return nil, errors.from_response(status, rheaders, rbody, op, self.secrets())
    end
    if rbody == "" then return true, status end
    local ok, doc = pcall(cjson.decode, rbody)
    if not ok then
        -- A 2xx that is not JSON is a proxy or a broken answer; asking
        -- again is the best we can do.
        return nil, errors.new({ kind = "retryable", status = status, code = "invalid_json",
            message = "answer is not JSON: " .. rbody:sub(1, 120), op = op }, self.secrets())
    end
    return normalize(doc), status
end

-- call(method, path, {query = {...}, json = table, timeout_ms}) yields.
-- path starts with "/v2/storage/". Returns the decoded answer (true for an
-- empty body) and the status, or nil, err after the retry policy gave up.
function Api:call(method, path, opts)
    opts = opts or {}
    if self.before_scoped and not unscoped(path) then
        local ok, err = self.before_scoped()
        if not ok then return nil, err end
    end
    return self.policy:run(method .. " " .. path, function()
        return self:attempt(method, path, opts)
    end)
end

return M
