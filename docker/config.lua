-- kbsyncd configuration for the container image (/etc/kbsyncd/config.lua).
-- Mount your own folder over /etc/kbsyncd to replace it; every key is
-- described in config.lua.example and docs/configuration.md.
--
-- The Storage API host and token come from the environment
-- (KBC_STORAGE_API_HOST, KBC_STORAGE_API_TOKEN: `env_file: .env` in compose,
-- `--env-file .env` or `-e` with docker/podman run).

-- Optional policy overrides: /etc/kbsyncd/policy.lua, when present, returns a
-- table of hooks (bucket, table, ignore, columns, on_header_change,
-- should_load).  It is read again on SIGHUP, like this file.
local policy = {}
local f = io.open("/etc/kbsyncd/policy.lua", "r")
if f then
  f:close()
  policy = dofile("/etc/kbsyncd/policy.lua")
end

return {
  watch_dir = "/data",                  -- the mounted folder
  state_dir = "/var/lib/kbsyncd",       -- state.json and the spool
  log = {
    file = "/var/log/kbsyncd/kbsyncd.log",
    level = "info",
    stderr = true,                      -- also to `docker logs`
  },
  policy = policy,
}
