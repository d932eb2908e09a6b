-- keboola/retry.lua - the one retry policy of the client.
--
-- Every HTTP call of the client (Storage API and cloud uploads alike) goes
-- through policy:run. An attempt returning an error of kind "retryable" is
-- tried again after a pause; "permanent" and "auth" errors end at once.
-- Pause: exponential back-off with full jitter,
--   random(0, min(cap_ms, base_ms * 2^(attempt-1)))
-- or the server's Retry-After when it sent one (capped by
-- max_retry_after_s, so a bogus header cannot park a task for days).
-- max_attempts nil means no limit: the daemon keeps trying while the network
-- or Storage is down; `kbsyncd check` passes a small number.
local M = {}

local Policy = {}
Policy.__index = Policy

M.defaults = { base_ms = 500, cap_ms = 60000, max_attempts = nil,
               max_retry_after_s = 900 }

-- cfg: {base_ms, cap_ms, max_attempts, max_retry_after_s}
-- deps: {sleep = fn(ms) (yields), random = fn(m, n), log = host.log-like}
function M.new(cfg, deps)
    cfg = cfg or {}
    local p = setmetatable({}, Policy)
    p.base_ms = cfg.base_ms or M.defaults.base_ms
    p.cap_ms = cfg.cap_ms or M.defaults.cap_ms
    p.max_attempts = cfg.max_attempts
    p.max_retry_after_s = cfg.max_retry_after_s or M.defaults.max_retry_after_s
    p.sleep = assert(deps and deps.sleep, "retry policy needs a sleep function")
    p.random = deps.random or math.random
    p.log = deps.log
    return p
end

-- The pause before attempt+1, in ms, after attempt failed with err.
function Policy:delay_ms(attempt, err)
    if err and err.retry_after_s then
        return math.floor(math.min(err.retry_after_s, self.max_retry_after_s) * 1000)
    end
    local ceiling = self.base_ms * 2 ^ (math.min(attempt, 40) - 1)
    ceiling = math.floor(math.min(self.cap_ms, ceiling))
    if ceiling <= 0 then return 0 end
    return self.random(0, ceiling)
end

function Policy:gives_up(attempt, err)
    if err.kind ~= "retryable" then return true end
    return self.max_attempts ~= nil and attempt >= self.max_attempts
end

-- Runs attempt_fn(attempt) until it returns a non-nil first value, or an
-- error that is not worth retrying, or attempts run out. Returns what the
-- last attempt returned; the error gets err.attempts. label names the call
-- in the debug log ("POST /v2/storage/buckets").
function Policy:run(label, attempt_fn)
    local attempt = 0
    while true do
        attempt = attempt + 1
        local r1, r2, r3 = attempt_fn(attempt)
        if r1 ~= nil then return r1, r2, r3 end
        local err = r2
        if type(err) == "table" then err.attempts = attempt end
        if type(err) ~= "table" or self:gives_up(attempt, err) then
            return nil, err
        end
        local ms = self:delay_ms(attempt, err)
        -- One or two retries are routine (a proxy hiccup); from the third
        -- on the operator should see that something is wrong.
        if self.log then
            local level = attempt >= 3 and "warn" or "debug"
            self.log[level]("http_retry", { op = label, attempt = attempt,
                delay_ms = ms, error = tostring(err) })
        end
        self.sleep(ms)
    end
end

return M
