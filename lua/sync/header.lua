-- sync/header.lua - the header check of a load: local names as Keboola will
-- store them, compared with the table's columns.
--
-- Staging gives each header name in Keboola's form (its column-name
-- sanitiser, done in C for ASCII) and flags the names only the server can
-- transliterate; those go to POST webalize/column-names once and are
-- cached for the daemon's lifetime (names rarely change).
--
-- The server's answers are checked here: since mid-2024 webalize answers
-- 200 whatever the name, with "" for a name that has nothing to
-- transliterate and a system column name (oid, xmin...) unchanged.  Such a
-- name would fail the import after the upload; it is refused before,
-- naming the column.
local csv = require "host.csv"

local M = {}

-- Keboola's limit on a column name (src/colname.h, COLNAME_MAX, checks the
-- names staging sanitises itself; this checks the server's).
M.NAME_MAX = 64

-- A name Keboola would store under another name: staging's sanitiser
-- (src/colname.c, the one list of system column names) appends "_" to it.
local function reserved(name)
  return csv.sanitize(name) == name .. "_"
end

-- The server's name for column i, or the reason it cannot be a column.
local function refused(name)
  if name == "" then return "Keboola's transliteration leaves nothing of it" end
  if #name > M.NAME_MAX then
    return string.format("Keboola's transliteration %q is longer than %d characters", name, M.NAME_MAX)
  end
  if reserved(name) then
    return string.format("Keboola's transliteration %q is a reserved system column name", name)
  end
end

-- A header_invalid refusal: a table the load turns into its result
-- (event, kind "permanent": the file's fault, loaded again when it changes).
local function invalid(messages)
  return setmetatable({ event = "header_invalid", kind = "permanent",
                        message = table.concat(messages, "; ") },
                      { __tostring = function(e) return e.message end })
end

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
-- A server name that cannot be a column (empty, too long, reserved, or
-- the same as another column's, case-insensitively) gives nil and an err
-- with event = "header_invalid" naming each such column by position and
-- raw name.
function M.keboola_names(header, cache, webalize_fn)
  local raw = header.raw or {}
  local names, ask, ask_at = {}, {}, {}
  local answered = {} -- positions whose name is the server's (cache included)
  local server = server_set(header.webalize)
  local n = math.max(#raw, header.keboola and #header.keboola or 0)
  for i = 1, n do
    names[i] = (header.keboola and header.keboola[i]) or raw[i]
    if server[i] and raw[i] then
      if cache[raw[i]] then
        names[i] = cache[raw[i]]
        answered[i] = true
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
      local name = got[j]
      if type(name) == "string" then
        cache[ask[j]] = name
        names[i] = name
        answered[i] = true
      end
    end
  end
  local bad, first = {}, {}
  for i = 1, n do
    local name = names[i]
    local why = answered[i] and refused(name)
    if why then
      bad[#bad + 1] = string.format("column %d %q: %s", i, raw[i], why)
    elseif type(name) == "string" then
      local key = name:lower()
      if first[key] and (answered[i] or answered[first[key]]) then
        bad[#bad + 1] = string.format("column %d %q: same name as column %d %q after Keboola's " ..
          "transliteration (%q; names are case-insensitive)", i, raw[i] or name, first[key],
          raw[first[key]] or "", name)
      end
      first[key] = first[key] or i
    end
  end
  if #bad > 0 then return nil, invalid(bad) end
  return names
end

-- diff(local, remote) -> nil when equal, else {missing = {...}, extra = {...},
-- reordered = bool, case_only = bool}.  Names compare exactly: a header
-- that differs from the table in any way, letter case included, is a
-- change.  case_only: every missing name is an extra one but for letter
-- case (and nothing else differs in the set of names).
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
  d.case_only = #d.missing > 0 and #d.missing == #d.extra
  if d.case_only then
    local extra_lower = {}
    for _, n in ipairs(d.extra) do extra_lower[n:lower()] = (extra_lower[n:lower()] or 0) + 1 end
    for _, n in ipairs(d.missing) do
      local k = n:lower()
      if not extra_lower[k] or extra_lower[k] == 0 then d.case_only = false; break end
      extra_lower[k] = extra_lower[k] - 1
    end
  end
  return d
end

local function quoted(list)
  local out = {}
  for i, n in ipairs(list) do out[i] = string.format("%q", n) end
  return table.concat(out, ",")
end

-- One line for the log: "missing=a,b extra=c", "reordered (was: a,b now:
-- b,a)", or for a difference in letter case only, a sentence that says so.
function M.describe(d, localn, remote)
  if d.case_only then
    return "the header differs from the table only in letter case: file " .. quoted(d.extra) ..
      ", table " .. quoted(d.missing) .. "; Keboola matches names case-insensitively but keeps" ..
      " the table's spelling: rename the columns in the file to the table's spelling, or recreate the table"
  end
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
