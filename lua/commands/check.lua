-- commands/check.lua - `kbsyncd check`: is everything in place to sync?
--
-- Validates config and .env (done by the time we run), verifies the token
-- against the stack and prints what the daemon will work with.  One clear
-- line and a distinct exit code for each way it can fail.
local config = require "config"
local http = require "host.http"
local log = require "host.log"

local M = {}

local function say(fmt, ...) io.stdout:write(string.format(fmt, ...), "\n") end
local function fail(msg) io.stderr:write("kbsyncd: ", msg, "\n") end

function M.run(cfg, o)
  local EXIT = require("daemon_exit")
  local ok, err = config.require_keboola(cfg)
  if not ok then fail(err); return EXIT.usage end
  if not http.async_dns() then
    log.warn("dns_blocking", { action = "libcurl here resolves names synchronously; a slow DNS server will stall the daemon" })
  end
  local kbc = require "keboola"
  -- A check should answer quickly: a few attempts, not the daemon's
  -- retry-forever policy.
  local retry = { base_ms = cfg.retry.base_ms, cap_ms = math.min(cfg.retry.cap_ms, 4000),
                  max_attempts = cfg.retry.max_attempts or 3 }
  local client = kbc.new { host = cfg.keboola.host, token = cfg.keboola.token,
    s3_endpoint = cfg.keboola.s3_endpoint, gcs_endpoint = cfg.keboola.gcs_endpoint,
    http = { connect_timeout_ms = cfg.http.connect_timeout_ms,
             timeout_ms = math.min(cfg.http.timeout_ms, 30000), ca_bundle = cfg.http.ca_bundle },
    retry = retry, version = require("host.task").version, branch = cfg.keboola.branch }
  -- The branch first: a missing one is a config error, not a refused token.
  local branch, berr = client:resolve_branch()
  if not branch and berr.code == "branch_not_found" then fail(berr.message); return EXIT.usage end
  local info, verr = client:verify_token()
  if not info then
    if verr.kind == "auth" then
      fail("the Storage API token was rejected by " .. cfg.keboola.host ..
        " (HTTP 401): check KBC_STORAGE_API_TOKEN in .env and that the token belongs to this stack")
      return EXIT.auth
    end
    fail("cannot verify the token at " .. cfg.keboola.host .. ": " .. tostring(verr) ..
      " (check KBC_STORAGE_API_HOST and the network)")
    return EXIT.unreachable
  end
  say("config        %s", cfg.config_file or "(defaults only)")
  say("watch_dir     %s", cfg.watch_dir or "(not set: run/once need it)")
  say("stack         %s", cfg.keboola.host)
  say("project       %s (id %s)", tostring(info.project_name), tostring(info.project_id))
  branch = client:branch() or branch
  say("branch        %s", branch.production and "production (keboola.branch is not set)"
    or string.format("%s (id %s)%s", tostring(branch.name), tostring(branch.id),
      branch.is_default and ", the production branch" or ", development branch"))
  say("token         %s (id %s)%s", tostring(info.description), tostring(info.token_id),
    info.is_master and ", master" or "")
  say("file storage  %s%s", tostring(info.file_storage_provider),
    info.region and (" (" .. info.region .. ")") or "")
  say("buckets       %s", info.can_manage_buckets and "can create buckets"
    or "cannot create buckets: folders need existing buckets with write access")
  local n = 0
  for _ in pairs(info.bucket_permissions or {}) do n = n + 1 end
  if not info.can_manage_buckets and n > 0 then
    say("permissions   %d bucket(s) with explicit rights", n)
  end
  if cfg.watch_dir and not require("host.fs").stat(cfg.watch_dir) then
    fail("watch_dir " .. cfg.watch_dir .. " does not exist: create it or fix watch_dir")
    return EXIT.usage
  end
  local refused, rc = M.check_folders(cfg, client, info)
  if rc then return rc end
  if refused > 0 then
    fail(string.format("the token cannot write to the bucket of %d folder(s): give it write access " ..
      "to those buckets (or canManageBuckets to create them), or use another token", refused))
    return EXIT.auth
  end
  say("ok")
  return EXIT.ok
end

-- The right the token has on a bucket id: "manage", "write", "read" or nil.
local function right_on(info, bucket_id)
  if info.can_manage_buckets then return "manage" end
  local perms = info.bucket_permissions or {}
  return perms[bucket_id]
end

-- For each local folder: can the token create its bucket, or write to it?
-- One line per folder; returns how many cannot (and an exit code when the
-- bucket list itself could not be read).
function M.check_folders(cfg, client, info)
  if not cfg.watch_dir then return 0 end
  local policy = require("policy").new(cfg)
  local folders = require("sync.folders").new(cfg, policy)
  folders:rescan_all_initial()
  local names = {}
  for folder in pairs(folders:folder_names()) do names[#names + 1] = folder end
  table.sort(names)
  if #names == 0 then say("folders       none yet (each sub-folder of watch_dir becomes a bucket)"); return 0 end
  local buckets, err = client:list_buckets()
  if not buckets then
    fail("cannot list buckets: " .. tostring(err))
    return 0, err.kind == "auth" and require("daemon_exit").auth or require("daemon_exit").unreachable
  end
  local kbc = require "keboola"
  local refused = 0
  for _, folder in ipairs(names) do
    local name, why = folders:bucket_name(folder)
    local line
    if not name then
      line = "skipped: " .. tostring(why)
    else
      local found = kbc.find_bucket(buckets, name, cfg.stage)
      if found then
        local right = right_on(info, found.id)
        if right == "write" or right == "manage" then
          line = string.format("%s: can write (%s)", found.id, right)
        else
          refused = refused + 1
          line = string.format("%s: CANNOT WRITE (token right: %s)", found.id, tostring(right or "none"))
        end
      elseif info.can_manage_buckets then
        line = string.format("%s.c-%s: will be created", cfg.stage, name)
      else
        refused = refused + 1
        line = string.format("%s.c-%s: CANNOT CREATE (the bucket does not exist and the token lacks canManageBuckets)",
          cfg.stage, name)
      end
    end
    say("folder        %-24s %s", folder .. "/", line)
  end
  return refused
end

return M
