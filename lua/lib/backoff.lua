-- lib/backoff.lua - the one back-off formula of kbsyncd.
--
-- Every wait before another try (an HTTP call, a failed load, a first
-- contact with Keboola) uses it:
--   ceiling = min(cap_ms, base_ms * 2^(attempt-1))
--   delay   = ceiling/2 + random(0, ceiling/2)        ("equal jitter")
-- Never less than half the ceiling, so a storm of failures spreads out but
-- never retries at once; never more than cap_ms.  Pure Lua.
local M = {}

-- delay_ms(attempt >= 1, {base_ms, cap_ms}, random?) -> integer ms
function M.delay_ms(attempt, cfg, random)
  random = random or math.random
  local ceiling = cfg.base_ms * 2 ^ (math.min(math.max(attempt, 1), 40) - 1)
  ceiling = math.floor(math.min(cfg.cap_ms, ceiling))
  if ceiling <= 0 then return 0 end
  local half = ceiling // 2
  return half + random(0, ceiling - half)
end

return M
