-- keboola/url.lua - URL helpers shared by the Storage API and the uploaders.
-- Pure Lua.
local M = {}

-- RFC 3986 percent-encoding. Unreserved characters stay; with keep_slash
-- "/" stays too (object keys in paths). This is also exactly what S3 SigV4
-- expects in a canonical URI, so the URL libcurl signs is the URL it sends.
function M.encode(s, keep_slash)
    -- lua-cjson decodes every JSON number as a float: an id 5001 must not
    -- become "5001.0" in a path.
    if math.type(s) == "float" and math.tointeger(s) then s = math.tointeger(s) end
    s = tostring(s)
    local pattern = keep_slash and "[^%w%-%._~/]" or "[^%w%-%._~]"
    return (s:gsub(pattern, function(c)
        return string.format("%%%02X", c:byte())
    end))
end

-- "a=1&b=x%20y" with keys sorted: SigV4 in libcurl 7.88 signs the query as
-- written, so a sorted query is also the canonical one. Values true/"" give
-- "key=" (S3's "?uploads=").
function M.query(params)
    local keys = {}
    for k in pairs(params) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
        local v = params[k]
        if v == true then v = "" end
        parts[#parts + 1] = M.encode(k) .. "=" .. M.encode(v)
    end
    return table.concat(parts, "&")
end

-- Appends a query to a URL that may already have one.
function M.with_query(u, params)
    local q = type(params) == "string" and params or M.query(params)
    if q == "" then return u end
    return u .. (u:find("?", 1, true) and "&" or "?") .. q
end

-- The Storage API base: "connection.keboola.com" gets https://, trailing
-- slashes and an included "/v2/storage" are dropped, so paths can always be
-- appended as "/v2/storage/...".
function M.normalize_base(host)
    assert(type(host) == "string" and host ~= "", "Storage API host is required")
    host = host:gsub("^%s+", ""):gsub("%s+$", "")
    if not host:find("^%a[%w+.-]*://") then host = "https://" .. host end
    host = host:gsub("/+$", ""):gsub("/v2/storage$", ""):gsub("/+$", "")
    return host
end

-- "host[:port]" of a URL (for logs and the verify answer).
function M.host_of(u)
    return u:match("^%a[%w+.-]*://([^/?#]+)") or u
end

-- Path of a URL without scheme, host and query.
function M.path_of(u)
    local p = u:gsub("^%a[%w+.-]*://[^/]*", ""):gsub("[?#].*$", "")
    return p == "" and "/" or p
end

return M
