-- keboola - the Keboola Storage API client of kbsyncd.
--
--   local kbc = require "keboola"
--   local c = kbc.new{ host = "connection.keboola.com", token = TOKEN }
--   local info, err = c:verify_token()
--
-- Every method that talks to the network yields the calling task (it must
-- run inside a host task) and returns its value(s), or nil, err where err is
-- a keboola.errors object (kind "retryable" | "permanent" | "auth";
-- tostring(err) is one log line). Retries follow one policy (retry.lua).
-- docs/keboola-client.md describes every function.
--
-- The token is kept in a closure inside the API helper: it is not a field of
-- the client, tostring(client) does not show it and it is scrubbed from any
-- error text.
local errors = require "keboola.errors"
local http = require "keboola.http"
local jobs = require "keboola.jobs"
local retry = require "keboola.retry"
local storage = require "keboola.storage"
local transport = require "keboola.transport"
local upload = require "keboola.upload"
local url = require "keboola.url"

local M = {}

M.VERSION = "0.1.0"
M.errors = errors
M.find_bucket = storage.find_bucket
M.find_existing_bucket = storage.find_existing_bucket
M.dialect_fields = storage.dialect_fields

-- The defaults of every section come from lua/defaults.lua, the one place
-- a default lives; a caller's values override them key by key.
local defaults_of = require "lib.defaults_of"
M.defaults = {
    http = defaults_of("http"), retry = defaults_of("retry"), jobs = defaults_of("jobs"),
    upload = defaults_of("upload"), tags = defaults_of("keboola").tags,
}

local Client = {}
Client.__index = Client

function Client:__tostring() return "keboola.client(" .. self.base .. ")" end

-- Fills missing keys of t from defaults (one level).
local function with_defaults(t, defaults)
    local out = {}
    for k, v in pairs(defaults or {}) do out[k] = v end
    for k, v in pairs(t or {}) do out[k] = v end
    return out
end

-- The host modules, unless injected (unit tests pass fakes for all of
-- them; the host's own modules are only required when something is missing).
local function host_deps(deps)
    deps = deps or {}
    local function host(name) return require("host." .. name) end
    local timer = (deps.sleep and deps.now) and {} or host("timer")
    return {
        http = deps.http or host("http"),
        sleep = deps.sleep or timer.sleep,
        -- The pause between two tries of a call: the daemon passes one that
        -- ends early (returning true) when it is stopping.
        backoff_sleep = deps.backoff_sleep or deps.sleep or timer.sleep,
        now = deps.now or timer.now,
        log = deps.log or host("log"),
        fs = deps.fs or host("fs"),
        random = deps.random or math.random,
    }
end

-- The daemon's version for the User-Agent: the host's when running inside
-- it, else this module's (plain lua5.4 unit tests).
local function host_version()
    local ok, task = pcall(require, "host.task")
    return ok and type(task) == "table" and task.version or M.VERSION
end

-- new(cfg [, deps]) → client. Raises on a config that cannot work (no host,
-- no token): that is a programming or configuration error, not I/O.
-- cfg: {host, token, s3_endpoint, gcs_endpoint, user_agent, version,
--       http = {connect_timeout_ms, timeout_ms, ca_bundle, low_speed_time_s},
--       retry = {base_ms, cap_ms, max_attempts},
--       jobs = {poll_initial_ms, poll_cap_ms, deadline_s},
--       upload = {s3_single_max, s3_part_size, abs_single_max, abs_block_size,
--                 gcs_single_max, gcs_chunk_size},
--       tags = {...}}
function M.new(cfg, deps)
    assert(type(cfg) == "table", "keboola.new needs a config table")
    assert(type(cfg.token) == "string" and cfg.token ~= "", "keboola.new: token is required")
    local d = host_deps(deps)
    local c = setmetatable({}, Client)
    c.base = url.normalize_base(cfg.host)
    c.user_agent = cfg.user_agent or ("kbsyncd/" .. (cfg.version or host_version()))
    c.s3_endpoint = cfg.s3_endpoint
    c.gcs_endpoint = cfg.gcs_endpoint
    c.jobs_cfg = with_defaults(cfg.jobs, M.defaults.jobs)
    c.upload_cfg = with_defaults(cfg.upload, M.defaults.upload)
    c.tags = cfg.tags or M.defaults.tags
    c.deps = d
    c.unfinished = {} -- multipart upload id -> fn() aborting it
    c.log = d.log
    c.policy = retry.new(with_defaults(cfg.retry, M.defaults.retry),
        { sleep = d.backoff_sleep, now = d.now, random = d.random, log = d.log })
    c.transport = transport.new(with_defaults(cfg.http, M.defaults.http),
        { http = d.http, now = d.now, log = d.log })
    c.api = http.new({ base = c.base, token = cfg.token, user_agent = c.user_agent,
        transport = c.transport, policy = c.policy, log = d.log })
    c.version = cfg.version or host_version()
    -- keboola.branch: looked up once, before the first call it scopes.
    c.branch_wanted = cfg.branch
    if c.branch_wanted ~= nil and c.branch_wanted ~= "" then
        c.api.before_scoped = function() return c:resolve_branch() end
    end
    return c
end

---------------------------------------------------------------- Storage

function Client:verify_token() return storage.verify_token(self.api) end
function Client:list_buckets() return storage.list_buckets(self.api) end
function Client:get_bucket(id) return storage.get_bucket(self.api, id) end
function Client:create_bucket(name, opts) return storage.create_bucket(self.api, name, opts) end
function Client:ensure_bucket(folder, opts) return storage.ensure_bucket(self.api, folder, opts) end
function Client:list_tables(opts) return storage.list_tables(self.api, opts) end
function Client:get_table(id) return storage.get_table(self.api, id) end
function Client:webalize(names) return storage.webalize(self.api, names) end
function Client:refresh_file(id) return storage.refresh_file(self.api, id) end
function Client:get_file(id) return storage.get_file(self.api, id) end

function Client:prepare_file(name, size_bytes, opts)
    opts = opts or {}
    return storage.prepare_file(self.api, name, size_bytes,
        { tags = opts.tags or self.tags, is_permanent = opts.is_permanent })
end

function Client:create_table_async(bucket_id, name, file_id, opts)
    return storage.create_table_async(self.api, bucket_id, name, file_id, opts)
end

function Client:import_async(table_id, file_id, opts)
    return storage.import_async(self.api, table_id, file_id, opts)
end

function Client:wait_job(job)
    return jobs.wait(self.api, job, self.jobs_cfg,
        { sleep = self.deps.sleep, now = self.deps.now, log = self.log })
end

---------------------------------------------------------------- branches

function Client:list_dev_branches() return storage.list_dev_branches(self.api) end

-- resolve_branch() yields: the branch keboola.branch names (an id or a
-- name), looked up once in GET dev-branches; from then on every call but
-- jobs goes to /v2/storage/branch/{id}/...  Returns {id, name, is_default}
-- ({production = true} when no branch is set) or nil, err: a branch that
-- does not exist is a permanent error naming the branches there are.
-- Called by the first call it scopes; `check` calls it itself.
function Client:resolve_branch()
    if self.branch_info then return self.branch_info end
    if self.branch_wanted == nil or self.branch_wanted == "" then
        self.branch_info = { production = true }
        return self.branch_info
    end
    local list, err = storage.list_dev_branches(self.api)
    if not list then return nil, err end
    local b = storage.find_branch(list, self.branch_wanted)
    if not b then
        local names = {}
        for _, x in ipairs(list) do names[#names + 1] = string.format("%s (id %s)", tostring(x.name), tostring(x.id)) end
        return nil, errors.new({ kind = "permanent", code = "branch_not_found", op = "GET /v2/storage/dev-branches",
            message = string.format("keboola.branch \"%s\": no branch of this project has that id or name"
                .. " (there are: %s); create it in Keboola or fix keboola.branch",
                tostring(self.branch_wanted), table.concat(names, ", ")) })
    end
    -- The default branch is production: its plain paths are the same place.
    self.branch_info = { id = b.id, name = b.name, is_default = b.isDefault == true }
    if not self.branch_info.is_default then self.api.branch_id = b.id end
    self.api.before_scoped = nil
    self.log.info("branch_selected", { branch = b.name, branch_id = b.id, production = b.isDefault == true })
    return self.branch_info
end

-- The resolved branch ({id, name, is_default} or {production = true}),
-- nil before resolve_branch ran.
function Client:branch() return self.branch_info end

---------------------------------------------------------------- metadata

M.PROVIDER = "kbsyncd"

function Client:list_table_metadata(id) return storage.list_table_metadata(self.api, id) end
function Client:set_table_metadata(id, provider, entries)
    return storage.post_table_metadata(self.api, id, provider, entries)
end

-- This machine's name, for provenance: $HOSTNAME, else the kernel's.
function Client:host_name()
    local ok, env = pcall(require, "host.env")
    local name = ok and env.get("HOSTNAME") or nil
    if (name == nil or name == "") and self.deps.fs and self.deps.fs.read then
        name = (self.deps.fs.read("/proc/sys/kernel/hostname", 256) or ""):gsub("%s+$", "")
    end
    return (name ~= nil and name ~= "") and name or "unknown"
end

-- The description a table synced from `path` gets.
function M.provenance_description(path, host)
    return string.format("Synced by kbsyncd from the file %s on %s; every change of that file"
        .. " replaces the table's data.", path, host)
end

-- write_provenance(table_id, {path, size, fingerprint, rows[, host,
-- version]}) yields: the table's metadata under provider "kbsyncd" says
-- where its data comes from, and KBC.description says so in words unless
-- another provider (a person in the UI: "user") set a description: that
-- one is never overwritten. Returns {keys = n, description_kept_of =
-- provider or nil} or nil, err.
function Client:write_provenance(table_id, facts)
    local current, err = self:list_table_metadata(table_id)
    if not current then return nil, err end
    local kept_of
    for _, m in ipairs(current) do
        if m.key == "KBC.description" and m.provider ~= M.PROVIDER and m.value ~= nil and m.value ~= "" then
            kept_of = m.provider
        end
    end
    local host = facts.host or self:host_name()
    local entries = {
        { key = "kbsyncd.source.path", value = facts.path },
        { key = "kbsyncd.source.bytes", value = facts.size },
        { key = "kbsyncd.source.fingerprint", value = facts.fingerprint },
        { key = "kbsyncd.source.rows", value = facts.rows },
        { key = "kbsyncd.host", value = host },
        { key = "kbsyncd.version", value = facts.version or self.version },
    }
    local sent = {}
    for _, e in ipairs(entries) do
        if e.value ~= nil and e.value ~= "" then sent[#sent + 1] = e end
    end
    if not kept_of then
        sent[#sent + 1] = { key = "KBC.description", value = M.provenance_description(facts.path, host) }
    end
    local ok, perr = self:set_table_metadata(table_id, M.PROVIDER, sent)
    if not ok then return nil, perr end
    return { keys = #sent, description_kept_of = kept_of }
end

---------------------------------------------------------------- uploads

-- What callers get back about an uploaded file: no credentials, so it can
-- be logged or stored freely.
local function file_summary(file, size, parts, ms)
    return { id = file.id, name = file.name, provider = file.provider,
             region = file.region, size_bytes = size, parts = parts, ms = ms }
end

function Client:upload_context()
    local api = self.api
    return {
        transport = self.transport, policy = self.policy, log = self.log,
        upload = self.upload_cfg, s3_endpoint = self.s3_endpoint,
        gcs_endpoint = self.gcs_endpoint,
        refresh = function(file_id) return storage.refresh_file(api, file_id) end,
        unfinished = self.unfinished,
    }
end

-- Aborts the multipart uploads still unfinished (their load tasks are
-- about to be cancelled: the daemon stops), each in a task of its own;
-- waits at most wait_ms.  Returns how many aborts had not ended by then.
-- Parts of an upload never aborted would be kept, and billed, by S3 until
-- the bucket's lifecycle rule removes them.
function Client:abort_unfinished(wait_ms)
    local task = require "host.task"
    local ended, pending = task.event(), 0
    for id, abort in pairs(self.unfinished) do
        self.unfinished[id] = nil
        pending = pending + 1
        task.spawn(function()
            abort()
            pending = pending - 1
            ended:notify()
        end)
    end
    local deadline = self.deps.now() + wait_ms
    while pending > 0 and self.deps.now() < deadline do ended:wait(deadline - self.deps.now()) end
    return pending
end

local function size_of(self, path)
    local fs = self.deps.fs
    local st, err = fs and fs.stat(path)
    if not st then
        return nil, errors.new({ kind = "permanent", code = "file",
            message = "cannot stat " .. tostring(path) .. ": " .. tostring(err or "no host.fs"),
            op = "upload" })
    end
    return st.size
end

-- upload_file(path, {name, size, tags, source}) yields: files/prepare, then
-- the upload to the cloud the answer names. name defaults to the file's base
-- name; it must end in ".gz" when the content is gzipped (that is how
-- Storage knows). With `source` (keboola.upload.common: a file still being
-- written) the upload starts before the file is complete and path may be
-- nil; files/prepare then gets no sizeBytes (it is not known yet), and
-- `file_uploaded` says streamed=true. Returns
-- a summary {id, name, provider, region, size_bytes, parts, ms} or nil,
-- err. Refused upload credentials (expired, revoked) get one fresh
-- files/prepare before the "auth" error is returned.
function Client:upload_file(path, opts)
    opts = opts or {}
    local source = opts.source
    local size = opts.size
    if not size and not source then
        local err
        size, err = size_of(self, path)
        if not size then return nil, err end
    end
    local name = opts.name or (path and path:match("([^/]+)$"))
    local started = self.deps.now()
    local last_err
    for round = 1, 2 do
        local file, err = self:prepare_file(name, size, opts)
        if not file then return nil, err end
        local ok, parts, streamed_size
        if source then
            ok, parts, streamed_size = upload.upload_stream(self:upload_context(), file, source)
            size = streamed_size or size
        else
            ok, parts = upload.upload(self:upload_context(), file, path, size)
        end
        if ok then
            local ms = self.deps.now() - started
            self.log.info("file_uploaded", { file = name, file_id = file.id,
                provider = file.provider, bytes = size, parts = parts, ms = ms,
                streamed = source and true or nil })
            return file_summary(file, size, parts, ms)
        end
        last_err = parts
        local cloud_refused = type(last_err) == "table" and last_err.kind == "auth" and last_err.op
            and not last_err.op:find("/v2/storage/", 1, true)
        if not cloud_refused or round == 2 then break end
        self.log.warn("upload_credentials_refused", { file = name, file_id = file.id,
            error = tostring(last_err), action = "preparing the file again" })
    end
    return nil, last_err
end

---------------------------------------------------------------- tables

-- The table a finished tableCreate job made. results is the table object;
-- when a server sends an empty results the table is read by id
-- (bucket id + "." + name, the documented form of a table id).
local function created_table(self, job, bucket_id, name)
    local t = job.results
    if type(t) == "table" and t.id then return t end
    return self:get_table(bucket_id .. "." .. name)
end

local function is_table_exists(err)
    return err and err.code == "storage.buckets.tableAlreadyExists"
end

local function is_table_missing(err)
    return err and err.code == "storage.tables.notFound"
end

-- The table of a bucket list that shows `name` as its display name.
local function shown_as(list, name)
    for _, t in ipairs(list) do
        if t.displayName == name then return t end
    end
    return nil
end

-- The table a create refused as "already exists" means, loaded with our
-- file: bucket.name first (a retried POST had gone through, or another
-- writer made it), else the table that shows `name` as its display name
-- (renamed in the UI: its id differs). One pass, no retry of the create.
-- Returns table, job or nil, err.
local function adopt_existing(self, bucket_id, name, file_id, opts, exists_err)
    local table_id = bucket_id .. "." .. name
    self.log.info("table_exists_loading", { table = table_id, file_id = file_id })
    local loaded, lerr = self:load_table(table_id, file_id, opts)
    if not loaded and not is_table_missing(lerr) then return nil, lerr end
    if not loaded then
        local list, list_err = self:list_tables({ bucket_id = bucket_id })
        if not list then return nil, list_err end
        local holder = shown_as(list, name)
        if not holder then
            exists_err.message = tostring(exists_err.message) .. " No table " .. table_id
                .. " exists and no table of the bucket is shown as \"" .. name
                .. "\": rename the table that holds the name in Keboola"
            return nil, exists_err
        end
        table_id = holder.id
        self.log.warn("table_adopted_by_display_name", { table = table_id, name = name,
            action = "loading into the table shown as " .. name .. "; its id stays " .. table_id })
        loaded, lerr = self:load_table(table_id, file_id, opts)
        if not loaded then return nil, lerr end
    end
    local t, terr = self:get_table(table_id)
    if not t then return nil, terr end
    return t, loaded
end

-- create_table(bucket_id, name, file_id, {dialect, primary_key}) yields
-- through the job. Returns table, job or nil, err. The table returned
-- carries its real id: after a display-name adoption that is not
-- bucket_id .. "." .. name.
-- "Table already exists" (at request time or in the job) happens when a
-- retried POST had in fact gone through, when another writer made the
-- table, or when a table of the bucket shows `name` as its display name:
-- the table is there, and a FULL load of our file makes its contents
-- exactly what was asked for.
function Client:create_table(bucket_id, name, file_id, opts)
    local job, err = self:create_table_async(bucket_id, name, file_id, opts)
    if job then job, err = self:wait_job(job) end
    if job then
        local t, terr = created_table(self, job, bucket_id, name)
        if not t then return nil, terr end
        return t, job
    end
    if not is_table_exists(err) then return nil, err end
    return adopt_existing(self, bucket_id, name, file_id, opts, err)
end

-- load_table(table_id, file_id, {dialect}) yields: FULL load (truncate, then
-- load) and wait. Returns the finished job (job.results has importedColumns,
-- totalRowsCount) or nil, err (csvImport.columnsNotMatch lists columns).
function Client:load_table(table_id, file_id, opts)
    local job, err = self:import_async(table_id, file_id, opts)
    if not job then return nil, err end
    return self:wait_job(job)
end

return M
