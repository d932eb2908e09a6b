-- keboola/storage.lua - Storage API resources: token, buckets, tables,
-- files, the column-name helper. Thin: each function is one endpoint (plus
-- the "already exists" recovery for bucket create), every one yields and
-- returns value or nil, err (keboola.errors).
--
-- Identifiers are never computed when the API can say them: a bucket id is
-- taken from the create answer or the list (the "c-" prefix depends on a
-- project feature), a table from the job result or the table list.
local url = require "keboola.url"

local M = {}

local function enc(id) return url.encode(id) end

---------------------------------------------------------------- token

-- owner.id is a string in the blueprint and a number elsewhere: tostring
-- both. The answer's own "token" field is dropped on purpose.
function M.normalize_token(v, base)
    local owner = type(v.owner) == "table" and v.owner or {}
    local perms = {}
    if type(v.bucketPermissions) == "table" then
        for bucket, right in pairs(v.bucketPermissions) do perms[bucket] = right end
    end
    local org = type(v.organization) == "table" and v.organization or {}
    return {
        token_id = v.id ~= nil and tostring(v.id) or nil,
        description = v.description,
        is_master = v.isMasterToken == true,
        can_manage_buckets = v.canManageBuckets == true,
        can_read_all_file_uploads = v.canReadAllFileUploads == true,
        bucket_permissions = perms,
        expires = v.expires,
        project_id = owner.id ~= nil and tostring(math.tointeger(owner.id) or owner.id) or nil,
        project_name = owner.name,
        region = owner.region,
        file_storage_provider = owner.fileStorageProvider,
        default_backend = owner.defaultBackend,
        features = type(owner.features) == "table" and owner.features or {},
        organization_id = org.id ~= nil and tostring(org.id) or nil,
        stack_host = base and url.host_of(base) or nil,
    }
end

function M.verify_token(api)
    local v, err = api:call("GET", "/v2/storage/tokens/verify")
    if not v then return nil, err end
    return M.normalize_token(v, api.base)
end

---------------------------------------------------------------- buckets

function M.list_buckets(api)
    local list, err = api:call("GET", "/v2/storage/buckets")
    if not list then return nil, err end
    if type(list) ~= "table" then list = {} end
    return list
end

function M.get_bucket(api, bucket_id)
    return api:call("GET", "/v2/storage/buckets/" .. enc(bucket_id))
end

-- The bucket a folder maps to, from a bucket list (pure). With the legacy
-- prefix the folder "sales" is name "c-sales"; without it, name "sales";
-- displayName catches buckets renamed in the UI.
function M.find_bucket(buckets, folder, stage)
    stage = stage or "in"
    for _, b in ipairs(buckets or {}) do
        if b.stage == stage and (b.name == "c-" .. folder or b.name == folder) then
            return b
        end
    end
    for _, b in ipairs(buckets or {}) do
        if b.stage == stage and b.displayName == folder then return b end
    end
    return nil
end

local function is_already_exists(err)
    return err and err.code == "storage.buckets.alreadyExists"
        and (err.status == 400 or err.status == 409)
end

-- The bucket that holds `name` after a create was refused as "already
-- exists" (pure). Keboola keeps display names unique per project, not per
-- stage (docs/keboola-client.md), so the holder may sit in another stage:
-- the stage asked for first, then a display name or a name in any stage.
function M.find_existing_bucket(buckets, name, stage)
    local found = M.find_bucket(buckets, name, stage)
    if found then return found end
    for _, b in ipairs(buckets or {}) do
        if b.displayName == name then return b end
    end
    for _, b in ipairs(buckets or {}) do
        if b.name == "c-" .. name or b.name == name then return b end
    end
    return nil
end

-- opts: {stage = "in", description, display_name, backend}
-- POSTs are retried, so an attempt that succeeded but lost its answer comes
-- back as "already exists"; so does a name another bucket shows as its
-- display name. Either way the bucket is read from the list; when the list
-- has no such bucket (a token that does not see it) the error says so.
function M.create_bucket(api, name, opts)
    opts = opts or {}
    local stage = opts.stage or "in"
    local b, err = api:call("POST", "/v2/storage/buckets", { json = {
        name = name, stage = stage, description = opts.description,
        displayName = opts.display_name, backend = opts.backend,
    } })
    if b then return b end
    if not is_already_exists(err) then return nil, err end
    local list, lerr = M.list_buckets(api)
    if not list then return nil, lerr end
    local found = M.find_existing_bucket(list, name, stage)
        or (opts.display_name and M.find_existing_bucket(list, opts.display_name, stage))
    if found then return found end
    err.message = err.message .. " No bucket named or shown as \"" .. name
        .. "\" is visible to this token in any stage: rename the bucket that holds the name"
        .. " in Keboola, or give the token access to it"
    return nil, err
end

-- The bucket for a folder: from `buckets` (a cached list) when given, else
-- listed; created when absent.
function M.ensure_bucket(api, folder, opts)
    opts = opts or {}
    local list = opts.buckets
    if not list then
        local err
        list, err = M.list_buckets(api)
        if not list then return nil, err end
    end
    local found = M.find_bucket(list, folder, opts.stage)
    if found then return found, false end
    local b, err = M.create_bucket(api, folder, opts)
    if not b then return nil, err end
    return b, true
end

---------------------------------------------------------------- tables

-- opts.bucket_id: one bucket, else the whole project. Columns included.
function M.list_tables(api, opts)
    opts = opts or {}
    local path = opts.bucket_id
        and ("/v2/storage/buckets/" .. enc(opts.bucket_id) .. "/tables")
        or "/v2/storage/tables"
    local list, err = api:call("GET", path, { query = { include = opts.include or "columns" } })
    if not list then return nil, err end
    if type(list) ~= "table" then list = {} end
    return list
end

-- nil, err with err.code "storage.tables.notFound" (404) when absent.
function M.get_table(api, table_id)
    return api:call("GET", "/v2/storage/tables/" .. enc(table_id))
end

-- The request fields of a CSV dialect {delimiter, enclosure, escaped_by}.
-- The API wants either a non-empty enclosure or escapedBy, never both: with
-- an escape character we send enclosure "" explicitly, because an omitted
-- enclosure means the default '"'.
function M.dialect_fields(dialect, into)
    dialect = dialect or {}
    into = into or {}
    into.delimiter = dialect.delimiter or ","
    if dialect.escaped_by and dialect.escaped_by ~= "" then
        into.escapedBy = dialect.escaped_by
        into.enclosure = ""
    else
        into.enclosure = dialect.enclosure or '"'
    end
    return into
end

-- Starts the creation of a table from an uploaded file; returns the job.
function M.create_table_async(api, bucket_id, name, file_id, opts)
    opts = opts or {}
    local body = M.dialect_fields(opts.dialect, { name = name, dataFileId = file_id })
    if opts.primary_key and #opts.primary_key > 0 then
        body.primaryKey = table.concat(opts.primary_key, ",")
    end
    return api:call("POST", "/v2/storage/buckets/" .. enc(bucket_id) .. "/tables-async",
        { json = body })
end

-- Starts a FULL load (incremental false: truncate, then load); returns the job.
function M.import_async(api, table_id, file_id, opts)
    opts = opts or {}
    local body = M.dialect_fields(opts.dialect, { dataFileId = file_id, incremental = false })
    return api:call("POST", "/v2/storage/tables/" .. enc(table_id) .. "/import-async",
        { json = body })
end

-- Column names as Storage will store them. The blueprint's shape
-- ({"columnNames": [...]} both ways) is used; an older plain array answer is
-- accepted too. names must be non-empty.
function M.webalize(api, names)
    assert(type(names) == "table" and #names > 0, "webalize needs a non-empty list")
    local v, err = api:call("POST", "/v2/storage/webalize/column-names",
        { json = { columnNames = names } })
    if not v then return nil, err end
    if type(v) == "table" and type(v.columnNames) == "table" then return v.columnNames end
    return v
end

-- Table metadata (blueprint, "Table Metadata"): a list of {id, key,
-- value, provider, timestamp}.
function M.list_table_metadata(api, table_id)
    local list, err = api:call("GET", "/v2/storage/tables/" .. enc(table_id) .. "/metadata")
    if not list then return nil, err end
    if type(list) ~= "table" then list = {} end
    return list
end

-- Sets key/value pairs of one provider on a table (a pair already there
-- for that provider and key gets the new value). entries: non-empty list of
-- {key, value}; values are sent as strings. JSON as the blueprint's current
-- form, whose answer is {metadata = [...], columnsMetadata = {...}}; the
-- deprecated form request answers a plain array: both give the table's
-- metadata list.
function M.post_table_metadata(api, table_id, provider, entries)
    assert(type(entries) == "table" and #entries > 0, "table metadata needs a non-empty list")
    local list = {}
    for i, e in ipairs(entries) do list[i] = { key = e.key, value = tostring(e.value) } end
    local v, err = api:call("POST", "/v2/storage/tables/" .. enc(table_id) .. "/metadata",
        { json = { provider = provider, metadata = list } })
    if not v then return nil, err end
    if type(v) == "table" and type(v.metadata) == "table" then return v.metadata end
    return type(v) == "table" and v or {}
end

---------------------------------------------------------------- branches

-- The project's branches: [{id, name, isDefault, ...}] (never scoped).
function M.list_dev_branches(api)
    local list, err = api:call("GET", "/v2/storage/dev-branches")
    if not list then return nil, err end
    if type(list) ~= "table" then list = {} end
    return list
end

-- The branch `wanted` names (pure): its id first (a name may be digits
-- too, an id is what the user copied from the URL), else its name.
function M.find_branch(branches, wanted)
    wanted = tostring(wanted)
    for _, b in ipairs(branches or {}) do
        if b.id ~= nil and tostring(b.id) == wanted then return b end
    end
    for _, b in ipairs(branches or {}) do
        if b.name == wanted then return b end
    end
    return nil
end

---------------------------------------------------------------- files

-- Registers a file and returns the prepare answer with upload credentials.
-- opts: {tags = {...}, is_permanent}. sizeBytes is the size of the bytes that
-- will be uploaded (the gzip size for a .gz).
function M.prepare_file(api, name, size_bytes, opts)
    opts = opts or {}
    local body = {
        name = name, sizeBytes = size_bytes,
        federationToken = true, isEncrypted = true,
        isPermanent = opts.is_permanent == true,
    }
    -- An empty Lua table would encode as {}: omit tags instead.
    if opts.tags and #opts.tags > 0 then body.tags = opts.tags end
    return api:call("POST", "/v2/storage/files/prepare", { json = body })
end

-- New GCS credentials for a prepared file (gcp only). A PUT with an
-- explicit "{}" body: some transports wait for a body on a bodiless PUT.
function M.refresh_file(api, file_id)
    return api:call("PUT", "/v2/storage/files/" .. enc(file_id) .. "/refresh", { json = {} })
end

function M.get_file(api, file_id)
    return api:call("GET", "/v2/storage/files/" .. enc(file_id))
end

return M
