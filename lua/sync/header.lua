-- sync/header.lua - the header check of a load: local names as Keboola will
-- store them, compared with the table's columns.
--
-- Staging gives each header name in Keboola's form (its column-name
-- sanitiser, done in C for ASCII) and flags the names only the server can
-- transliterate; those go to POST webalize/column-names once and are
-- cached for the daemon's lifetime (names rarely change).
local M = {}

-- Staging lists the positions (1-based) of the names only the server can
-- transliterate; returns them as a set.
local function server_set(flags)
  local set = {}
  for _, i in ipairs(type(flags) == "table" and flags or {}) do set[i] = true end
  return set
end

-- keboola_names(header, cache, webalize_fn) -> names | nil, err
-- header: staging's {raw, keboola, webalize = {positions}};
-- webalize_fn(list) -> list |
-- nil, err (nil webalize_fn: take staging's names as they are, dry-run).
function M.keboola_names(header, cache, webalize_fn)
  local raw = header.raw or {}
  local names, ask, ask_at = {}, {}, {}
  local server = server_set(header.webalize)
  local n = math.max(#raw, header.keboola and #header.keboola or 0)
  for i = 1, n do
    names[i] = (header.keboola and header.keboola[i]) or raw[i]
    if server[i] and raw[i] then
      if cache[raw[i]] then
        names[i] = cache[raw[i]]
      elseif webalize_fn then
        ask[#ask + 1] = raw[i]
        ask_at[#ask_at + 1] = i
      end
    end
  end
  if #ask > 0 then
    local got, err = webalize_fn(ask)
    if not got then return nil, err end
    for j, i in ipairs(ask_at) do
      local n = got[j]
      if type(n) == "string" then
        cache[ask[j]] = n
        names[i] = n
      end
    end
  end
  return names
end

-- diff(local, remote) -> nil when equal, else {missing = {...}, extra = {...},
-- reordered = bool}.  Names compare exactly: Keboola matches columns
-- case-sensitively.
function M.diff(localn, remote)
  local same = #localn == #remote
  if same then
    for i = 1, #localn do
      if localn[i] ~= remote[i] then same = false; break end
    end
  end
  if same then return nil end
  local in_local, in_remote = {}, {}
  for _, n in ipairs(localn) do in_local[n] = true end
  for _, n in ipairs(remote) do in_remote[n] = true end
  local d = { missing = {}, extra = {}, reordered = false }
  for _, n in ipairs(remote) do if not in_local[n] then d.missing[#d.missing + 1] = n end end
  for _, n in ipairs(localn) do if not in_remote[n] then d.extra[#d.extra + 1] = n end end
  d.reordered = #d.missing == 0 and #d.extra == 0
  return d
end

-- One line for the log: "missing=a,b extra=c" or "reordered (was: a,b now: b,a)".
function M.describe(d, localn, remote)
  local parts = {}
  if #d.missing > 0 then parts[#parts + 1] = "missing=" .. table.concat(d.missing, ",") end
  if #d.extra > 0 then parts[#parts + 1] = "extra=" .. table.concat(d.extra, ",") end
  if d.reordered then
    parts[#parts + 1] = "reordered (table: " .. table.concat(remote, ",") ..
      "; file: " .. table.concat(localn, ",") .. ")"
  end
  return table.concat(parts, " ")
end

return M
