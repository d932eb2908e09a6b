-- keboola/retry.lua - the one retry policy of the client.
--
-- Every HTTP call of the client (Storage API and cloud uploads alike) goes
-- through policy:run. An attempt returning an error of kind "retryable" is
-- tried again after a pause; "permanent" and "auth" errors end at once.
-- Pause: lib/backoff.lua (the one formula), or the server's Retry-After
-- when it sent one (capped by max_retry_after_s, so a bogus header cannot
-- park a task for days).
-- The policy gives up, returning the last error, when:
--   * max_attempts is set and reached (`kbsyncd check` passes a few);
--   * give_up_after_ms is set and the next pause would end past it,
--     counted from the first attempt (`kbsyncd once` must end);
--   * the pause was interrupted (the daemon is stopping): the error then
--     has code "cancelled".
-- Values come from the caller (lua/defaults.lua holds the defaults).
local backoff = require "lib.backoff"

local M = {}

local Policy = {}
Policy.__index = Policy

-- cfg: {base_ms, cap_ms, max_retry_after_s, max_attempts?, give_up_after_ms?}
-- deps: {sleep = fn(ms) -> true when interrupted (yields), now = fn() -> ms,
--        random = fn(m, n), log = host.log-like}
function M.new(cfg, deps)
    local p = setmetatable({}, Policy)
    p.base_ms = assert(cfg.base_ms, "retry policy needs base_ms")
    p.cap_ms = assert(cfg.cap_ms, "retry policy needs cap_ms")
    p.max_retry_after_s = assert(cfg.max_retry_after_s, "retry policy needs max_retry_after_s")
    p.max_attempts = cfg.max_attempts
    p.give_up_after_ms = cfg.give_up_after_ms
    p.sleep = assert(deps and deps.sleep, "retry policy needs a sleep function")
    p.now = deps.now
    p.random = deps.random or math.random
    p.log = deps.log
    return p
end

-- The pause before attempt+1, in ms, after attempt failed with err.
function Policy:delay_ms(attempt, err)
    if err and err.retry_after_s then
        return math.floor(math.min(err.retry_after_s, self.max_retry_after_s) * 1000)
    end
    return backoff.delay_ms(attempt, self, self.random)
end

function Policy:gives_up(attempt, err)
    if err.kind ~= "retryable" then return true end
    return self.max_attempts ~= nil and attempt >= self.max_attempts
end

-- Runs attempt_fn(attempt) until it returns a non-nil first value, or an
-- error that is not worth retrying, or the policy gives up. Returns what
-- the last attempt returned; the error gets err.attempts (and
-- err.gave_up_after_ms when the time bound ended it). label names the call
-- in the log ("POST /v2/storage/buckets").
function Policy:run(label, attempt_fn)
    local attempt = 0
    local started = self.now and self.now()
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
        if self.give_up_after_ms and started
            and self.now() + ms - started > self.give_up_after_ms then
            err.gave_up_after_ms = self.now() - started
            return nil, err
        end
        -- One or two retries are routine (a proxy hiccup); from the third
        -- on the operator should see that something is wrong.
        if self.log then
            local level = attempt >= 3 and "warn" or "debug"
            self.log[level]("http_retry", { op = label, attempt = attempt,
                delay_ms = ms, error = tostring(err) })
        end
        if self.sleep(ms) == true then
            err.code, err.cancelled = "cancelled", true
            return nil, err
        end
    end
end

return M
