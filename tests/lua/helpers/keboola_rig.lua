-- keboola_rig.lua - helpers the provider tests share: start or reuse a
-- rig, drive the emulator's /_emulator endpoints, write CSV files.
--
--   local rig = require "helpers.keboola_rig"
--   local r = rig.up("gcp")        -- reuses an exported rig of that provider
--   ... r:faults{...}, r:table_csv(id), rig.write_csv(path, header, rows)
--   r:down()
--
-- Run on its own (the test runner runs every test_*.lua) it only says so.
local http = require "host.http"
local env = require "host.env"
local cjson = require "cjson"

local M = {}

-- The repository root, from this file's own path (tests/lua/helpers/...).
local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."
M.root = here .. "/../../.."

local Rig = {}
Rig.__index = Rig

local function parse_exports(text)
    local vars = {}
    for line in text:gmatch("[^\n]+") do
        local k, v = line:match("^export ([%w_]+)=(.*)$")
        if k then
            v = v:gsub("^'(.*)'$", "%1"):gsub('^"(.*)"$', "%1")
            vars[k] = v
        end
    end
    return vars
end

-- rig.up(provider, extra_options) → rig. Reuses the rig the environment
-- describes when it is of the same provider (then down() leaves it running).
function M.up(provider, options)
    if env.get("KBSYNCD_PROVIDER") == provider and env.get("KBC_STORAGE_API_HOST") then
        local vars = {}
        for _, k in ipairs({ "KBC_STORAGE_API_HOST", "KBC_STORAGE_API_TOKEN", "KBSYNCD_EMULATOR_URL",
            "KBSYNCD_RIG_DIR", "KBSYNCD_S3_ENDPOINT", "KBSYNCD_GCS_ENDPOINT",
            "KBSYNCD_TOKEN_NO_MANAGE", "KBSYNCD_TOKEN_LIMITED" }) do
            vars[k] = env.get(k)
        end
        return setmetatable({ provider = provider, vars = vars, owned = false }, Rig)
    end
    -- io.popen blocks the loop for the ~2 s the rig needs; nothing else
    -- runs in a test process, so that is fine here.
    local cmd = string.format("%s/tests/rig/up %s %s", M.root, provider, options or "")
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("a")
    local ok = p:close()
    local vars = parse_exports(out)
    assert(ok and vars.KBC_STORAGE_API_HOST, "tests/rig/up " .. provider .. " failed: " .. out)
    return setmetatable({ provider = provider, vars = vars, owned = true }, Rig)
end

function Rig:down()
    if not self.owned then return end
    os.execute(string.format("%s/tests/rig/down %s >/dev/null 2>&1", M.root, self.vars.KBSYNCD_RIG_DIR))
    self.owned = false
end

-- Client config for this rig; overrides are merged one level deep.
function Rig:client_config(overrides)
    local v = self.vars
    local cfg = {
        host = v.KBC_STORAGE_API_HOST, token = v.KBC_STORAGE_API_TOKEN,
        s3_endpoint = v.KBSYNCD_S3_ENDPOINT, gcs_endpoint = v.KBSYNCD_GCS_ENDPOINT,
        retry = { base_ms = 20, cap_ms = 300 },
        jobs = { poll_initial_ms = 50, poll_cap_ms = 200, deadline_s = 60 },
        http = { connect_timeout_ms = 5000, timeout_ms = 30000 },
    }
    for k, val in pairs(overrides or {}) do
        if type(val) == "table" and type(cfg[k]) == "table" then
            for k2, v2 in pairs(val) do cfg[k][k2] = v2 end
        else
            cfg[k] = val
        end
    end
    return cfg
end

function Rig:emulator(method, path, doc)
    local status, _, body = http.request({
        method = method, url = self.vars.KBSYNCD_EMULATOR_URL .. path,
        headers = doc and { ["Content-Type"] = "application/json" } or nil,
        body = doc and cjson.encode(doc) or nil, timeout_ms = 30000,
    })
    assert(status and status < 300, "emulator " .. method .. " " .. path .. ": "
        .. tostring(status) .. " " .. tostring(body))
    return body
end

-- Replaces the fault configuration: rate 0, no script, the default kinds
-- (everything but stuck-job), retryAfter 1 s and slowMs 200 unless given.
function Rig:faults(cfg)
    local doc = { rate = 0, retryAfter = 1, slowMs = 200, seed = 1 }
    for k, v in pairs(cfg or {}) do doc[k] = v end
    if not doc.kinds then
        local known = cjson.decode(self:emulator("GET", "/_emulator/faults")).knownKinds
        doc.kinds = {}
        for _, k in ipairs(known) do
            if k ~= "stuck-job" then doc.kinds[#doc.kinds + 1] = k end
        end
    end
    local script = doc.script or {}
    doc.script, doc.rates = nil, nil
    -- lua-cjson encodes an empty table as {}: write the lists by hand.
    local text = cjson.encode(doc):gsub("}$", "")
    text = text .. ',"script":' .. (#script > 0 and cjson.encode(script) or "[]")
    text = text .. ',"rates":' .. (cfg and cfg.rates and next(cfg.rates) and cjson.encode(cfg.rates) or "{}") .. "}"
    local status, _, body = http.request({ method = "PUT",
        url = self.vars.KBSYNCD_EMULATOR_URL .. "/_emulator/faults",
        headers = { ["Content-Type"] = "application/json" }, body = text })
    assert(status == 200 or status == 204, "setting faults: " .. tostring(status) .. " " .. tostring(body))
end

-- Faults served so far (the emulator's history list).
function Rig:fault_history()
    return cjson.decode(self:emulator("GET", "/_emulator/faults")).history or {}
end

-- Scripted faults not yet served.
function Rig:pending_faults()
    return cjson.decode(self:emulator("GET", "/_emulator/faults")).script or {}
end

function Rig:config(doc) self:emulator("PUT", "/_emulator/config", doc) end

-- The table as the emulator holds it, line ends normalised to "\n".
function Rig:table_csv(table_id)
    if not table_id then return nil, "no table id" end
    local status, _, body = http.request({
        url = self.vars.KBSYNCD_EMULATOR_URL .. "/_emulator/tables/" .. table_id .. ".csv",
        max_body = 64 * 1024 * 1024, timeout_ms = 60000 })
    if status ~= 200 then return nil, tostring(status) .. " " .. tostring(body) end
    return (body:gsub("\r\n", "\n"))
end

---------------------------------------------------------------- CSV files

-- Writes header + rows (arrays of strings) as a plain CSV; returns the
-- emulator's rendering of the same table (every value enclosed).
function M.write_csv(path, header, rows)
    local f = assert(io.open(path, "wb"))
    local expect = {}
    local function line(values)
        f:write(table.concat(values, ","), "\n")
        local q = {}
        for i, v in ipairs(values) do q[i] = '"' .. v .. '"' end
        expect[#expect + 1] = table.concat(q, ",")
    end
    line(header)
    for _, r in ipairs(rows) do line(r) end
    f:close()
    return table.concat(expect, "\n") .. "\n"
end

-- A generated CSV of about `bytes` bytes (id,name,note); returns the
-- expected emulator rendering and the real size.
function M.write_big_csv(path, bytes, tag)
    local f = assert(io.open(path, "wb"))
    local expect = { '"id","name","note"' }
    f:write("id,name,note\n")
    local size, i = 13, 0
    while size < bytes do
        i = i + 1
        local name, note = "name-" .. i, (tag or "v") .. "-" .. string.rep("x", 40)
        local l = i .. "," .. name .. "," .. note .. "\n"
        f:write(l)
        size = size + #l
        expect[#expect + 1] = '"' .. i .. '","' .. name .. '","' .. note .. '"'
    end
    f:close()
    return table.concat(expect, "\n") .. "\n", size
end

function M.gzip(path)
    assert(os.execute(string.format("gzip -c -n %q > %q.gz", path, path)))
    return path .. ".gz"
end

function M.tmpdir()
    local p = assert(io.popen("mktemp -d /tmp/kbsyncd-kbtest.XXXXXX"))
    local dir = p:read("l")
    p:close()
    return dir
end

function M.rmdir(dir)
    if dir and dir:match("^/tmp/kbsyncd%-kbtest%.") then os.execute("rm -rf " .. dir) end
end

return M
