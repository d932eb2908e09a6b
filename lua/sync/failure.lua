-- sync/failure.lua - where the cause of a failed load lies, and what that
-- means for the next try.  The one classification (docs/engine.md,
-- "Failures"); the engine, `status` and `once` read it from here.
--
--   class    cause                          next try
--   file     the file's bytes: encoding,    when the file changes
--            dialect, header, a refusal of
--            its contents by Keboola
--   remote   Keboola or the network         back-off (run); every once
--   auth     the token or its permissions   auth_recheck_s (run); every once
--   machine  this machine: disk full, a     back-off (run); every once
--            state_dir or spool not
--            writable, I/O errors
--   config   a policy hook raised (or a     next start or reload (HUP)
--            bug in kbsyncd)
-- Pure Lua.
local M = {}

M.CLASSES = { "file", "remote", "auth", "machine", "config" }

-- What to do about each class, for the log line and `status`.
M.ACTION = {
  file = "fix the file (see error); it is loaded again when it changes",
  remote = "none if temporary: retried with back-off; check the network and Keboola's status page if it persists",
  auth = "give the token the permission named in error (or set a valid KBC_STORAGE_API_TOKEN and send HUP); retried every auth_recheck_s",
  machine = "free the resource named in error (disk space, permissions of the folder); retried with back-off",
  config = "fix the policy in the config and send HUP (or restart); retried at the next start",
}

-- Whether a failure of this class is tried again without the file changing.
function M.retried_without_change(class)
  return class ~= "file"
end

-- The class of a client error (keboola.errors): a refused token is "auth"
-- (the caller pauses everything), a refused permission (403) is "auth" for
-- this file, anything worth retrying is "remote", and any other refusal is
-- about what this file asked for ("file").
function M.of_client_error(err)
  local kind = type(err) == "table" and err.kind or "retryable"
  if kind == "auth" then return "auth" end
  if kind == "retryable" then return "remote" end
  if type(err) == "table" and tonumber(err.status) == 403 then return "auth" end
  return "file"
end

-- The class of a staging error code from host.stage.
function M.of_stage_code(code)
  if code == "io" or code == "memory" then return "machine" end
  return "file"
end

return M
