-- sync/repair.lua - what policy.repair changed in one staged file, in
-- words: the csv_repaired log line of a load and `kbsyncd inspect`.
--
-- Staging (src/stage.c, docs/staging.md "Repairs") does the repairs and
-- returns what it did as result.repair; this only describes it.  Names are
-- listed up to NAMES_SHOWN, so a file with thousands of renamed columns
-- still gives one bounded line.

local M = {}

M.NAMES_SHOWN = 10

-- stage options from the config's policy.repair: nil when every repair is
-- off, so staging takes exactly its old path.
function M.options(cfg)
  local r = cfg and cfg.policy and cfg.policy.repair
  if not r then return nil end
  if r.names or r.preamble or r.no_header or r.short_rows == "pad" or r.long_rows == "last_column" then
    return { names = r.names, short_rows = r.short_rows, long_rows = r.long_rows,
             preamble = r.preamble, no_header = r.no_header }
  end
  return nil
end

-- The repairs in force, as one short string ("" when none): a file refused
-- under other repairs is judged again without waiting for it to change
-- (sync.reconcile), since turning a repair on is how a user fixes it.
function M.rules(cfg)
  local o = M.options(cfg)
  if not o then return "" end
  local parts = {}
  for _, k in ipairs { "names", "short_rows", "long_rows", "preamble", "no_header" } do
    if o[k] ~= nil and o[k] ~= false then parts[#parts + 1] = k .. "=" .. tostring(o[k]) end
  end
  return "repair:" .. table.concat(parts, ",")
end

local function cut(s)
  if #s > 40 then return s:sub(1, 37) .. "..." end
  return s
end

-- summary(repair) -> nil when nothing was repaired, else
-- { fields = {...} for a log line, lines = {"...", ...} in words }.
function M.summary(rep)
  if type(rep) ~= "table" then return nil end
  local f, lines = {}, {}
  if (rep.preamble_lines or 0) > 0 then
    f.preamble_lines = rep.preamble_lines
    lines[#lines + 1] = string.format("%d line(s) above the header skipped (header on line %d)",
      rep.preamble_lines, rep.preamble_lines + 1)
  end
  if rep.no_header then
    f.no_header = true
    lines[#lines + 1] = "no header: the first line is data, columns named column_1..N"
  end
  if (rep.padded or 0) > 0 then
    f.padded = rep.padded
    f.first_padded_line = rep.first_padded_line
    lines[#lines + 1] = string.format("%d short row(s) padded with empty values (first: line %d)",
      rep.padded, rep.first_padded_line)
  end
  if (rep.joined or 0) > 0 then
    f.joined = rep.joined
    f.first_joined_line = rep.first_joined_line
    lines[#lines + 1] = string.format("%d long row(s): extra fields joined into the last column (first: line %d)",
      rep.joined, rep.first_joined_line)
  end
  local names = rep.names or {}
  if #names > 0 then
    local shown = {}
    for i = 1, math.min(#names, M.NAMES_SHOWN) do
      local n = names[i]
      shown[i] = string.format("%d:%q->%q", n.column, cut(n.from), n.to)
    end
    if #names > M.NAMES_SHOWN then shown[#shown + 1] = string.format("... %d more", #names - M.NAMES_SHOWN) end
    f.names_changed = #names
    f.names = table.concat(shown, " ")
    lines[#lines + 1] = string.format("%d column name(s) renamed: %s", #names, table.concat(shown, ", "))
  end
  if #lines == 0 then return nil end
  return { fields = f, lines = lines }
end

return M
