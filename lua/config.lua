-- config.lua - load the user's config.lua and .env, validate, fill defaults.
--
-- Errors are one line the user can act on: "FILE:LINE: what is wrong",
-- returned as nil, message (the CLI exits 2).  The token never appears in
-- a message.
local fs = require "host.fs"
local env = require "host.env"
local log = require "host.log"
local schema = require "defaults"

local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

-- The line where `key =` first appears in the source, for messages.
local function line_of(source, key)
  if not source then return nil end
  local n = 0
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:find("[%s{,]" .. key:gsub("%p", "%%%0") .. "%s*=") or
       line:find("^" .. key:gsub("%p", "%%%0") .. "%s*=") then
      return n
    end
  end
end

local function where(ctx, key)
  local line = line_of(ctx.source, key)
  return line and (ctx.file .. ":" .. line) or ctx.file
end

local function type_ok(entry, v)
  local t = entry.type
  if t == "integer" then return math.type(v) == "integer" end
  return type(v) == t
end

-- Validates `user` against `spec` (a schema level), returns the merged
-- table or nil, message.
local function merge(ctx, spec, user, prefix)
  local out = {}
  if user ~= nil and type(user) ~= "table" then
    return nil, string.format("%s: '%s' must be a table, got %s", where(ctx, prefix), prefix, type(user))
  end
  user = user or {}
  for k, v in pairs(user) do
    if type(k) ~= "string" or not spec[k] then
      return nil, string.format("%s: unknown key '%s%s' (allowed: %s)", where(ctx, tostring(k)),
        prefix ~= "" and (prefix .. ".") or "", tostring(k), table.concat(sorted_keys(spec), ", "))
    end
  end
  for k, entry in pairs(spec) do
    local name = prefix ~= "" and (prefix .. "." .. k) or k
    local v = user[k]
    if entry.section then
      local sub, err = merge(ctx, entry.section, v, name)
      if not sub then return nil, err end
      out[k] = sub
    elseif v == nil then
      out[k] = entry.default
    else
      if not type_ok(entry, v) then
        return nil, string.format("%s: '%s' must be %s %s, got %s (%s)", where(ctx, k), name,
          entry.type == "integer" and "an" or "a", entry.type, math.type(v) or type(v),
          entry.type == "function" and "a function" or tostring(v))
      end
      if entry.enum then
        local okv = false
        for _, e in ipairs(entry.enum) do if e == v then okv = true end end
        if not okv then
          return nil, string.format("%s: '%s' must be one of %s, got '%s'", where(ctx, k), name,
            table.concat(entry.enum, ", "), tostring(v))
        end
      end
      if entry.min and v < entry.min then
        return nil, string.format("%s: '%s' must be at least %s, got %s", where(ctx, k), name, entry.min, v)
      end
      if entry.max and v > entry.max then
        return nil, string.format("%s: '%s' must be at most %s, got %s", where(ctx, k), name, entry.max, v)
      end
      out[k] = v
    end
  end
  return out
end

local function absolute(base, p)
  if p == nil or p == "" or p:sub(1, 1) == "/" then return p end
  return fs.join(base, p)
end

-- .env: the config's folder first, then the working folder; a key already
-- found is not overwritten, and real environment variables win over both.
local ENV_KEYS = {
  KBC_STORAGE_API_HOST = "host",
  KBC_STORAGE_API_TOKEN = "token",
  KBSYNCD_S3_ENDPOINT = "s3_endpoint",
  KBSYNCD_GCS_ENDPOINT = "gcs_endpoint",
}

local function load_dotenv(dirs, warnings)
  local found, seen = {}, {}
  for _, dir in ipairs(dirs) do
    local path = fs.join(dir, ".env")
    local real = fs.realpath(path)
    if real and not seen[real] then
      seen[real] = true
      local vars, err = env.parse_file(path)
      if not vars then return nil, err end
      local mode = env.file_mode(path)
      if mode and mode & 0x24 ~= 0 then -- 044: group or others may read it
        warnings[#warnings + 1] = { event = "env_file_readable", file = path,
          action = "chmod 600 " .. path .. " (it holds the Storage API token)" }
      end
      for k, v in pairs(vars) do
        if found[k] == nil then found[k] = v end
      end
    end
  end
  for k in pairs(ENV_KEYS) do
    local v = env.get(k)
    if v ~= nil and v ~= "" then found[k] = v end
  end
  return found
end

-- "connection.keboola.com" -> "https://connection.keboola.com"; trailing
-- slashes dropped.  Only http and https are accepted.
function M.normalize_host(h)
  if not h or h == "" then return nil, "empty" end
  h = h:gsub("%s+$", ""):gsub("^%s+", "")
  if not h:find("^%a[%w+.-]*://") then h = "https://" .. h end
  local scheme = h:match("^(%a[%w+.-]*)://")
  if scheme ~= "https" and scheme ~= "http" then return nil, "scheme must be https" end
  h = h:gsub("/+$", "")
  if not h:match("^https?://[^/%s]+") then return nil, "no host name" end
  return h
end

--- Loads and validates.  opts: { path = config file or nil, cwd = dir }.
-- Returns cfg, warnings  or  nil, message.
function M.load(opts)
  local cwd = opts.cwd or env.get("PWD") or "."
  local path = opts.path
  local user, source = {}, nil
  local base = cwd
  if path then
    local st = fs.stat(path)
    if not st then return nil, path .. ": config file not found" end
    source = fs.read(path, 1024 * 1024)
    -- The config runs in its own environment, reading the standard
    -- library through it; its globals do not leak into the daemon.
    local cenv = setmetatable({}, { __index = _G })
    local chunk, err = loadfile(path, "t", cenv)
    if not chunk then return nil, err end
    local ok, res = xpcall(chunk, function(e)
      if opts.traceback then return debug.traceback(tostring(e), 2) end
      return tostring(e)
    end)
    if not ok then return nil, tostring(res) end
    if type(res) ~= "table" then
      return nil, path .. ": must return a table (return { watch_dir = ... }), got " .. type(res)
    end
    user = res
    base = fs.dirname(fs.realpath(path) or path)
  end
  local ctx = { file = path or "(defaults)", source = source }
  local cfg, err = merge(ctx, schema, user, "")
  if not cfg then return nil, err end

  local warnings = {}
  local dotenv, derr = load_dotenv({ base, cwd }, warnings)
  if not dotenv then return nil, derr end
  for var, key in pairs(ENV_KEYS) do
    if dotenv[var] ~= nil then cfg.keboola[key] = dotenv[var] end
  end
  if cfg.keboola.host then
    local h, herr = M.normalize_host(cfg.keboola.host)
    if not h then
      return nil, "KBC_STORAGE_API_HOST '" .. cfg.keboola.host .. "' is not usable: " .. herr
    end
    cfg.keboola.host = h
  end
  if cfg.keboola.token then log.redact(cfg.keboola.token) end

  cfg.config_file = path
  cfg.config_dir = base
  -- Normalised once, here: every "is this file inside the watched
  -- folder" compares with this string ("/data/" would miss "/data/x").
  cfg.watch_dir = absolute(base, cfg.watch_dir)
  if cfg.watch_dir then cfg.watch_dir = cfg.watch_dir:gsub("/+", "/"):gsub("(.)/$", "%1") end
  cfg.state_dir = absolute(base, cfg.state_dir)
  if cfg.log.file ~= "" then cfg.log.file = absolute(base, cfg.log.file) end
  cfg.http.ca_bundle = absolute(base, cfg.http.ca_bundle)
  return cfg, warnings
end

--- The Keboola settings a command that talks to the API needs.
function M.require_keboola(cfg)
  if not cfg.keboola.host then
    return nil, "KBC_STORAGE_API_HOST is not set: put it in .env beside config.lua " ..
      "(e.g. KBC_STORAGE_API_HOST=connection.keboola.com)"
  end
  if not cfg.keboola.token or cfg.keboola.token:match("^%s*$") then
    return nil, "KBC_STORAGE_API_TOKEN is empty: put your Storage API token in .env " ..
      "beside config.lua (see .env.example)"
  end
  return true
end

return M
