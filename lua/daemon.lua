-- daemon.lua - the runner: the only functions the C host calls.
--
--   main(args)           the first task; its return value is the exit code
--                        (or "reload" when a validated HUP swaps the state)
--   on_signal(name)      "TERM", "INT" or "HUP"; must not yield
--   prepare_reload(args) run in a fresh state on HUP: load and validate
--                        config and scripts; an error keeps the old state
--
-- Everything else lives in modules; this file only dispatches commands.
local task = require "host.task"
local log = require "host.log"
local fs = require "host.fs"
local env = require "host.env"

local runner = { api_version = 1 }

-- Text chunks only: binary chunks bypass the parser's checks and can crash
-- the VM, so every loader the scripts can reach is pinned to mode "t".
do
  local raw_load, raw_loadfile = load, loadfile
  -- (an explicit nil environment would leave the chunk without _ENV, so
  -- the environment is passed only when the caller gave one)
  load = function(chunk, name, _, ...)
    if select("#", ...) > 0 then return raw_load(chunk, name, "t", ...) end
    return raw_load(chunk, name, "t")
  end
  loadfile = function(path, _, ...)
    if select("#", ...) > 0 then return raw_loadfile(path, "t", ...) end
    return raw_loadfile(path, "t")
  end
  dofile = function(path)
    local f, err = raw_loadfile(path, "t")
    if not f then error(err, 2) end
    return f()
  end
  package.searchers[2] = function(name)
    local path, err = package.searchpath(name, package.path)
    if not path then return "\n\t" .. err end
    local f, lerr = raw_loadfile(path, "t")
    if not f then error(lerr, 2) end
    return f, path
  end
  package.searchers[3], package.searchers[4] = nil, nil -- no native modules
  -- ... except lua-cjson in a build that loads it at run time (LuaRocks and
  -- Homebrew ship it as the module cjson.so, not a library to link): only
  -- "cjson" and "cjson.safe", both from cjson.so on the path kept by the
  -- host (package.cjson_cpath, Lua's own cpath).  Linked builds preload it.
  local cjson_cpath = package.cjson_cpath
  if not package.preload.cjson and cjson_cpath then
    package.searchers[3] = function(name)
      if name ~= "cjson" and name ~= "cjson.safe" then
        return "\n\tno native module '" .. name .. "' (only cjson is loaded from disk)"
      end
      local path = package.searchpath("cjson", cjson_cpath)
      if not path then
        error(("lua-cjson is missing: no cjson.so on Lua's cpath (%s); install it with "
          .. "`luarocks --lua-version 5.4 install lua-cjson`, or point LUA_CPATH_5_4 at it"):format(
          cjson_cpath == "" and "empty" or cjson_cpath), 2)
      end
      local open, err = package.loadlib(path, "luaopen_" .. name:gsub("%.", "_"))
      if not open then error(("cannot load %s from %s: %s"):format(name, path, err), 2) end
      return open, path
    end
  end
end

local cli = require "cli"
local config = require "config"

local EXIT = require "daemon_exit"
runner.EXIT = EXIT

local function stderr(msg) io.stderr:write("kbsyncd: ", msg, "\n") end

local function default_config_path(o)
  if o.config then return o.config end
  local e = env.get("KBSYNCD_CONFIG")
  if e and e ~= "" then return e end
  if fs.stat("config.lua") then return "config.lua" end
end

-- Loads config + .env and applies the CLI overrides.  Returns cfg or nil,
-- message.
local function load_config(o)
  local cfg, warnings = config.load { path = default_config_path(o),
    traceback = o.log_level == "debug" or o.log_level == "trace" }
  if not cfg then return nil, warnings end
  if o.log_level then cfg.log.level = o.log_level end
  cfg.dry_run = o.dry_run
  cfg.warnings = warnings
  return cfg
end

-- Commands that only print go to stderr at warn level; run and once write
-- the configured log file.
local function configure_log(cfg, to_file)
  local ok, err = log.configure {
    file = to_file and cfg.log.file or nil,
    level = to_file and cfg.log.level or
      ((cfg.log.level == "debug" or cfg.log.level == "trace") and cfg.log.level or "warn"),
    format = cfg.log.format, max_bytes = cfg.log.max_bytes, keep = cfg.log.keep,
    stderr = (not to_file) or cfg.log.stderr or cfg.log.file == "",
  }
  if not ok then return nil, err end
  for _, w in ipairs(cfg.warnings or {}) do log.warn(w.event, w) end
  return true
end

local state = { stopping = false, engine = nil }

local commands = {}

function commands.help() io.stdout:write(cli.USAGE); return EXIT.ok end

function commands.version()
  io.stdout:write("kbsyncd ", task.version, " (host API ", task.api_version, ", ",
    require("host.http").curl_version(), ")\n")
  return EXIT.ok
end

-- --exec FILE: a script with the host modules, run as this task; its folder
-- joins package.path so tests can require their helpers.
function commands.exec(o)
  local dir = fs.dirname(o.exec)
  package.path = dir .. "/?.lua;" .. package.path
  log.configure { level = o.log_level or "warn", stderr = true }
  local chunk, err = loadfile(o.exec)
  if not chunk then stderr(err); return EXIT.usage end
  local rest = {}
  for i = 1, #o.positional do rest[i] = o.positional[i] end
  local rc = chunk(table.unpack(rest))
  return math.type(rc) == "integer" and rc or EXIT.ok
end

function commands.check(o, cfg)
  return require("commands.check").run(cfg, o)
end

function commands.inspect(o, cfg)
  local policy = require "policy"
  local p = policy.new(cfg)
  return require("inspect").run(o.positional[1], {
    json = o.json, cfg = cfg,
    target = function(path) return p:target_for_path(path) end,
  })
end

function commands.status(o, cfg)
  return require("commands.status").run(cfg, o)
end

local function run_engine(o, cfg, once)
  if not cfg.watch_dir then
    stderr("watch_dir is not set: add watch_dir = \"/path/to/folder\" to " ..
      (cfg.config_file or "config.lua"))
    return EXIT.usage
  end
  local ok, err = config.require_keboola(cfg)
  if not ok then stderr(err); return EXIT.usage end
  ok, err = configure_log(cfg, true)
  if not ok then stderr(err); return EXIT.usage end
  if not require("host.http").async_dns() then
    log.warn("dns_blocking", { action = "this libcurl resolves names synchronously: a slow DNS " ..
      "server stalls every sync; install a libcurl with the threaded resolver" })
  end
  local engine = require "sync.engine"
  state.engine = engine.new(cfg, { once = once, dry_run = o.dry_run })
  if state.stopping then state.engine:stop(state.stopping) end
  return state.engine:run()
end

function commands.run(o, cfg) return run_engine(o, cfg, false) end
function commands.once(o, cfg) return run_engine(o, cfg, true) end

function runner.main(args)
  local o, err = cli.parse(args)
  if not o then stderr(err .. " (see kbsyncd --help)"); return EXIT.usage end
  if o.command == "help" or o.command == "version" or o.command == "exec" then
    return commands[o.command](o)
  end
  local cfg, cerr = load_config(o)
  if not cfg then stderr(cerr); return EXIT.usage end
  if o.command ~= "run" and o.command ~= "once" then
    local ok, lerr = configure_log(cfg, false)
    if not ok then stderr(lerr); return EXIT.usage end
  end
  require("lib.strict").lock()
  return commands[o.command](o, cfg)
end

function runner.on_signal(name)
  -- The host passes its arguments as one array ({"HUP"}), as for main().
  if type(name) == "table" then name = name[1] end
  if name == "HUP" then
    if state.engine then
      log.info("reload_requested", { action = "finishing running loads, then reloading config and scripts" })
      state.engine:stop("reload")
    else
      log.warn("reload_ignored", { reason = "no daemon running in this process" })
    end
    return
  end
  log.info("shutdown_requested", { signal = name })
  state.stopping = "stop"
  if state.engine then state.engine:stop("stop") end
end

function runner.prepare_reload(args)
  local o = assert(cli.parse(args))
  local cfg, err = load_config(o)
  if not cfg then error({ message = err }, 0) end -- one line in reload_failed
  require "sync.engine"
  require "policy"
end

return runner
