-- cli.lua - the command line: words in, a command and its options out.
local M = {}

M.USAGE = [[
Usage: kbsyncd [COMMAND] [OPTIONS]

Mirror a folder into Keboola Storage: each sub-folder is a bucket, each CSV
in it a table, every change a full load.

Commands:
  run                 watch and sync until stopped (the default)
  once                reconcile once, wait for every load, exit (1 if any failed)
  check               validate config and .env, verify the token, show the project
  status              summarise the saved state: tables, last loads, pending, failures
  inspect FILE        show what staging sees in a CSV (--json for one JSON object)

Options:
  -c, --config FILE   config file (default: $KBSYNCD_CONFIG, else ./config.lua if present)
  --scripts DIR       Lua scripts folder (default: the installed lua/)
  --log-level LEVEL   error, warn, info, debug or trace (overrides the config)
  --dry-run           run/once: only read from Keboola; log every write instead
  --json              inspect/status: machine-readable output
  --exec FILE.lua     run a Lua script with the host modules (tests, experiments)
  --version           print the version
  -h, --help          this text

Exit codes:
  0   success            1  something failed (once, inspect: file not loadable)
  2   config or usage    3  the token was rejected (HTTP 401)
  4   Keboola unreachable or failing (check)
  70  internal error     130/143  forced exit by a second INT/TERM

Docs: README.md and docs/ (configuration.md, operations.md, troubleshooting.md).
]]

local COMMANDS = { run = true, once = true, check = true, status = true, inspect = true }

--- Returns opts or nil, message.
function M.parse(args)
  local o = { command = nil, positional = {} }
  local i = 1
  local function value(flag)
    i = i + 1
    local v = args[i]
    if v == nil then error({ usage = flag .. " needs a value" }) end
    return v
  end
  local ok, err = pcall(function()
    while i <= #args do
      local a = args[i]
      local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
      if flag then a = flag; table.insert(args, i + 1, inline) end
      if a == "-c" or a == "--config" then o.config = value(a)
      elseif a == "--log-level" then o.log_level = value(a)
      elseif a == "--dry-run" then o.dry_run = true
      elseif a == "--json" then o.json = true
      elseif a == "--exec" then o.command = "exec"; o.exec = value(a)
      elseif a == "--version" or a == "-V" then o.command = o.command or "version"
      elseif a == "-h" or a == "--help" then o.command = "help"
      elseif a:sub(1, 1) == "-" and a ~= "-" then error({ usage = "unknown option " .. a })
      elseif o.command == nil and COMMANDS[a] then o.command = a
      else o.positional[#o.positional + 1] = a end
      i = i + 1
    end
  end)
  if not ok then
    if type(err) == "table" then return nil, err.usage end
    error(err, 0)
  end
  o.command = o.command or "run"
  if o.command == "inspect" and #o.positional ~= 1 then
    return nil, "inspect needs exactly one FILE"
  end
  if o.command ~= "inspect" and o.command ~= "exec" and #o.positional > 0 then
    return nil, "unexpected argument '" .. o.positional[1] .. "'"
  end
  local levels = { error = 1, warn = 1, info = 1, debug = 1, trace = 1 }
  if o.log_level and not levels[o.log_level] then
    return nil, "--log-level must be error, warn, info, debug or trace"
  end
  return o
end

return M
