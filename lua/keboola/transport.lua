-- keboola/transport.lua - one HTTP exchange through host.http, with the
-- client's timeouts, a debug log line per request and errors turned into
-- error objects. No retries here (that is retry.lua), no JSON (http.lua).
--
-- send(req) yields (host.http.request does) and returns
--   status, headers, body            for any HTTP answer, or
--   nil, err                         for a transport failure (err from
--                                    errors.from_transport, kind mostly
--                                    "retryable").
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}

local Transport = {}
Transport.__index = Transport

-- For tests only: KBSYNCD_TEST_CONNECT_TO="HOST:PORT:ADDR:PORT[,...]" sends
-- requests for HOST:PORT to ADDR:PORT, the URL (Host, TLS name) unchanged,
-- so a rig can serve production names (BUCKET.s3.REGION.amazonaws.com) on
-- loopback (tests/rig/tls.py). Never set in production: a client that sees
-- it logs a WARN naming the redirections.
M.TEST_CONNECT_TO = "KBSYNCD_TEST_CONNECT_TO"

function M.parse_connect_to(text)
    local list = {}
    for entry in tostring(text or ""):gmatch("[^,%s]+") do list[#list + 1] = entry end
    return #list > 0 and list or nil
end

-- cfg (http section of lua/defaults.lua): {connect_timeout_ms, timeout_ms,
-- upload_timeout_ms (0 = none), ca_bundle, low_speed_time_s, max_body}
-- deps: {http = host.http, now = fn() -> ms, log = host.log}
function M.new(cfg, deps)
    cfg = cfg or {}
    local connect_to = M.parse_connect_to(os.getenv(M.TEST_CONNECT_TO))
    if connect_to and deps.log then
        deps.log.warn("test_connect_to_active", { variable = M.TEST_CONNECT_TO,
            entries = table.concat(connect_to, ","),
            action = "unset it: it exists for the test rig and redirects connections" })
    end
    return setmetatable({
        connect_to = connect_to,
        connect_timeout_ms = cfg.connect_timeout_ms,
        timeout_ms = cfg.timeout_ms,
        upload_timeout_ms = cfg.upload_timeout_ms,
        max_body = cfg.max_body,
        ca_bundle = cfg.ca_bundle,
        low_speed_time_s = cfg.low_speed_time_s,
        http = assert(deps.http, "transport needs host.http"),
        now = deps.now,
        log = deps.log,
    }, Transport)
end

function Transport:__tostring() return "keboola.transport" end

-- req: the host.http.request options; req.secrets (not sent) lists strings
-- to scrub from errors. Timeouts default to the client's: a request that
-- sends file bytes (an upload) is bounded by upload_timeout_ms, when set,
-- and by stall detection (low_speed_time_s), never by the API-call
-- timeout, so a slow link still gets a large part through.
function Transport:send(req)
    local opts = {}
    for k, v in pairs(req) do
        if k ~= "secrets" then opts[k] = v end
    end
    opts.connect_timeout_ms = opts.connect_timeout_ms or self.connect_timeout_ms
    if opts.timeout_ms == nil then
        if opts.body_file then
            local up = self.upload_timeout_ms
            opts.timeout_ms = (up and up > 0) and up or nil
        else
            opts.timeout_ms = self.timeout_ms
        end
    end
    opts.max_body = opts.max_body or self.max_body
    opts.ca_bundle = opts.ca_bundle or self.ca_bundle
    opts.low_speed_time_s = opts.low_speed_time_s or self.low_speed_time_s
    opts.connect_to = opts.connect_to or self.connect_to
    local method = opts.method or "GET"
    local op = errors.op_name(method, opts.url)
    local started = self.now and self.now()
    local status, headers, body = self.http.request(opts)
    local ms = started and (self.now() - started) or nil
    if self.log then
        self.log.debug("http_request", {
            method = method, host = url.host_of(opts.url), path = url.path_of(opts.url),
            status = status or "-", ms = ms,
            bytes = opts.body_length or (opts.body and #opts.body) or 0,
            error = status == nil and errors.redact(tostring(headers), req.secrets) or nil,
        })
    end
    if status == nil then
        return nil, errors.from_transport(headers, op, req.secrets)
    end
    return status, headers or {}, body or ""
end

return M
