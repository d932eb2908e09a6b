-- kbsyncd configuration for the container image (/etc/kbsyncd/config.lua).
-- It is read from the environment, so the image runs without a config of
-- your own: set these in .env (compose's `env_file: .env`, `--env-file .env`
-- with docker/podman run) or with -e.  An unset or empty variable leaves the
-- setting at the value shown (the image's folders), or at kbsyncd's own
-- default (docs/configuration.md).
--
--   KBC_STORAGE_API_HOST, KBC_STORAGE_API_TOKEN   the stack and the token
--   KBSYNCD_WATCH_DIR          /data                     watch_dir
--   KBSYNCD_STATE_DIR          /var/lib/kbsyncd          state_dir
--   KBSYNCD_LOG_FILE           /var/log/kbsyncd/kbsyncd.log   log.file
--   KBSYNCD_LOG_LEVEL          info                      log.level
--   KBSYNCD_SETTLE_MS          (2000)                    settle_ms
--   KBSYNCD_RESCAN_INTERVAL_S  (3600)                    rescan_interval_s
--   KBSYNCD_WATCHER            (auto)                    watcher: auto, inotify, poll
--   KBSYNCD_POLL_INTERVAL_MS   (2000)                    poll_interval_ms
--   KBSYNCD_MAX_PARALLEL       (4)                       max_parallel
--
-- For more (policy hooks, other keys), mount a folder of your own over
-- /etc/kbsyncd with a config.lua; start from this file, which also loads a
-- policy.lua beside it.  Every key: config.lua.example, docs/configuration.md.

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

-- An integer setting, or nil when unset; a value that is not a whole number
-- stops the start with the variable's name rather than a type error about
-- the key.
local function int(name)
  local v = env(name)
  if v == nil then return nil end
  local n = math.tointeger(tonumber(v))
  if n == nil then error(name .. " must be a whole number, got '" .. v .. "'", 2) end
  return n
end

-- Optional policy overrides: policy.lua beside this file, when present,
-- returns a table of hooks (bucket, table, ignore, columns, on_header_change,
-- should_load).  It is read again on SIGHUP, like this file.
local policy = {}
local f = io.open("/etc/kbsyncd/policy.lua", "r")
if f then
  f:close()
  policy = dofile("/etc/kbsyncd/policy.lua")
end

return {
  watch_dir = env("KBSYNCD_WATCH_DIR") or "/data",
  state_dir = env("KBSYNCD_STATE_DIR") or "/var/lib/kbsyncd",  -- state.json and the spool
  settle_ms = int("KBSYNCD_SETTLE_MS"),
  -- Docker Desktop's bind mounts may deliver no file events for changes
  -- made on the host; a lower rescan interval (or watcher = poll) catches them.
  rescan_interval_s = int("KBSYNCD_RESCAN_INTERVAL_S"),
  watcher = env("KBSYNCD_WATCHER"),
  poll_interval_ms = int("KBSYNCD_POLL_INTERVAL_MS"),
  max_parallel = int("KBSYNCD_MAX_PARALLEL"),
  log = {
    -- "none" turns the file off (stderr still goes to `docker logs`): an
    -- empty variable cannot, it means "unset".
    file = (env("KBSYNCD_LOG_FILE") == "none" and "")
        or env("KBSYNCD_LOG_FILE") or "/var/log/kbsyncd/kbsyncd.log",
    level = env("KBSYNCD_LOG_LEVEL") or "info",
    stderr = true,                      -- also to `docker logs`
  },
  policy = policy,
}
