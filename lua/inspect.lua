-- inspect.lua - what staging sees in one file: `kbsyncd inspect FILE`.
--
-- describe(path, cfg, target_fn) analyses the file with host.stage in
-- analyse mode (nothing is written) and returns the stager's result table
-- plus `target` (what target_fn(path) maps the file to: {stage, bucket,
-- table[, assumed]}, or nil, reason[, event]), `problems` (why
-- the daemon would refuse the file as it is), `warnings`, and `verdict` =
-- {load = bool, reason = words}: load is true only when the daemon would
-- load the file as it is (`loadable` says the same).  target_fn is the
-- engine's own rule (Policy:target_for_path); without it only the file's
-- contents are judged.
-- run(path, opts) prints that as a readable summary, or with opts.json as
-- exactly one JSON object, and returns the exit code (daemon_exit): ok
-- when the verdict is load, failed otherwise (the reasons go to stderr).
-- opts: {json = bool, cfg = table (gzip_threshold, gzip_level,
-- sniff_bytes), target = function(path), out = file handle
-- (default io.stdout), err = file handle (default io.stderr)}.
--
-- This runs synchronously: a CLI command may block, the daemon's loop is
-- not running.

local stage = require "host.stage"
local cjson = require "cjson"
local EXIT = require "daemon_exit"
local repair = require "sync.repair"

local M = {}

local STEP_BYTES = 64 << 20

local function problems_of(r)
  local problems, warnings = {}, {}
  local function add(list, fmt, ...) list[#list + 1] = string.format(fmt, ...) end
  if r.unstable then
    add(problems, "the file changed while it was read; try again when it is stable")
  end
  if r.encoding and not r.encoding.valid then
    local e = r.encoding.error
    add(problems, "not valid UTF-8: %s at line %d, column %d (byte offset %d)",
        e.message, e.line, e.column, e.offset)
  end
  if r.error and r.error.code ~= "utf8" and r.error.code ~= "unstable" then
    add(problems, "%s", r.error.message)
  end
  for _, e in ipairs(r.header and r.header.errors or {}) do
    add(problems, "header column %d (%q): %s", e.column, e.name, e.message)
  end
  if (r.record_errors_total or 0) > 0 then
    local first = r.record_errors[1]
    add(problems, "%d record(s) with a different number of fields than the header "
        .. "(first: line %d has %d, the header %d)", r.record_errors_total,
        first.line, first.got, first.expected)
  end
  if (r.anomalies or 0) > 0 then
    add(warnings, "%d field(s) have text after their closing quote (first on line %d)",
        r.anomalies, r.first_anomaly_line)
  end
  if r.header and #r.header.webalize > 0 then
    add(warnings, "%d column name(s) are not ASCII: Keboola transliterates them "
        .. "(the daemon asks the server for the exact names)", #r.header.webalize)
  end
  return problems, warnings
end

local function place(t)
  return string.format("%s / %s / %s", t.stage, t.bucket, t.table)
end

-- Ignored (the engine never picks the file up) comes first: fixing the
-- contents would not help.  Then refused: what the load would stop at.
-- A file that loads only thanks to policy.repair says so: "as it is"
-- becomes "after N repair(s)".
local function verdict_of(r, ignored, routed)
  if ignored then return { load = false, reason = ignored } end
  if #r.problems > 0 then
    return { load = false, reason = "refused: " .. table.concat(r.problems, "; ") }
  end
  local how = #r.repairs > 0 and string.format("after %d repair(s) (policy.repair)", #r.repairs)
    or "as it is"
  local t = r.target
  if not routed then
    return { load = true, reason = "the contents can be loaded " .. how .. " (the target was not checked)" }
  end
  if t.assumed then
    return { load = true, reason = "outside the watched folder; placed at " .. t.assumed ..
      " it would be loaded " .. how .. " into " .. place(t) }
  end
  return { load = true, reason = "loaded " .. how .. " into " .. place(t) }
end

function M.describe(path, cfg, target_fn)
  cfg = cfg or {}
  -- The settings sync.load stages with, so the dialect is the engine's.
  local s, err = stage.open {
    src = path,
    gzip_threshold = cfg.gzip_threshold,
    gzip_level = cfg.gzip_level,
    sample_bytes = cfg.sniff_bytes,
    repair = repair.options(cfg),
  }
  local r
  if not s then
    r = { file = path, error = err }
  else
    while true do
      local done = s:step(STEP_BYTES)
      if done ~= false then break end -- true: finished; nil: failed
    end
    r = s:result()
    s:close()
  end
  local ignored
  if target_fn then
    local why, event
    r.target, why, event = target_fn(path)
    -- An event: the engine sees the file but blocks it (a name collision,
    -- a name Keboola refuses, a policy hook that raised).
    if not r.target then
      ignored = (event and "blocked (" .. event .. "): " or "ignored: ") .. (why or "no table to load it into")
    end
  end
  r.problems, r.warnings = problems_of(r)
  local fixed = repair.summary(r.repair)
  r.repairs = fixed and fixed.lines or {}
  r.verdict = verdict_of(r, ignored, target_fn ~= nil)
  r.loadable = r.verdict.load
  return r
end

-- ---- JSON, written by hand: lua-cjson 2.1.0 turns an empty Lua table into
-- {} and orders keys at random, so objects and arrays are built explicitly
-- and cjson only encodes scalars.

-- Invalid UTF-8 (a header from a Latin-1 file) would make invalid JSON:
-- each bad byte becomes U+FFFD.
local function valid_utf8(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local ok, n = pcall(utf8.len, s, i, i)
    if ok and n then
      local cp = utf8.codepoint(s, i)
      local ch = utf8.char(cp)
      out[#out + 1] = ch
      i = i + #ch
    else
      out[#out + 1] = "\u{FFFD}"
      i = i + 1
    end
  end
  return table.concat(out)
end

local function scalar(v)
  if v == nil or v == cjson.null then return "null" end
  if type(v) == "string" then v = valid_utf8(v) end
  return cjson.encode(v)
end

local function object(fields) -- { {key, json}, ... } in order
  local parts = {}
  for i, f in ipairs(fields) do parts[i] = cjson.encode(f[1]) .. ":" .. f[2] end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function array(list, encode)
  local parts = {}
  for i, v in ipairs(list or {}) do parts[i] = (encode or scalar)(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local RFC = { delimiter = ",", enclosure = '"', escapedBy = "", lineTerminator = "\n", bom = false }

-- "repairs" (in words) and "repair" (counts, renamed names): only when
-- policy.repair asked for some, so the output is otherwise unchanged.
local function repair_fields(r)
  if not r.repair then return nil end
  return { "repairs", array(r.repairs) }, { "repair", object {
      { "preamble_lines", scalar(r.repair.preamble_lines) },
      { "no_header", scalar(r.repair.no_header and true or false) },
      { "padded", scalar(r.repair.padded) },
      { "first_padded_line", scalar(r.repair.first_padded_line) },
      { "joined", scalar(r.repair.joined) },
      { "first_joined_line", scalar(r.repair.first_joined_line) },
      { "names", array(r.repair.names, function(x)
        return object { { "column", scalar(x.column) }, { "from", scalar(x.from) }, { "to", scalar(x.to) } }
      end) },
    } }
end

local function to_json(r)
  local enc = r.encoding or { valid = false }
  local d = r.dialect or RFC
  local h = r.header or {}
  local e = enc.error
  local target = r.target
  local fields = {
    { "file", scalar(r.file) },
    { "size", scalar(r.size or 0) },
    { "encoding", object {
      { "valid", scalar(enc.valid and true or false) },
      { "error", e and object {
        { "line", scalar(e.line) }, { "column", scalar(e.column) },
        { "offset", scalar(e.offset) }, { "message", scalar(e.message) },
      } or "null" },
    } },
    { "dialect", object {
      { "delimiter", scalar(d.delimiter) }, { "enclosure", scalar(d.enclosure) },
      { "escapedBy", scalar(d.escapedBy) }, { "lineTerminator", scalar(d.lineTerminator) },
      { "bom", scalar(d.bom) },
    } },
    { "header", object {
      { "raw", array(h.raw) },
      { "keboola", array(h.keboola) },
      { "errors", array(h.errors, function(x)
        return object { { "column", scalar(x.column) }, { "name", scalar(x.name) },
                        { "message", scalar(x.message) } }
      end) },
    } },
    { "rows", scalar(r.rows or 0) },
    { "gzip", scalar(r.gzip and true or false) },
    { "normalize", scalar(r.normalize and true or false) },
    { "target", target and object {
      { "stage", scalar(target.stage) }, { "bucket", scalar(target.bucket) },
      { "table", scalar(target.table) }, { "assumed", scalar(target.assumed) },
    } or "null" },
    { "verdict", object {
      { "load", scalar(r.verdict.load) }, { "reason", scalar(r.verdict.reason) },
    } },
  }
  local words, counts = repair_fields(r)
  if words then
    for i, f in ipairs(fields) do
      if f[1] == "rows" then table.insert(fields, i + 1, words); table.insert(fields, i + 2, counts); break end
    end
  end
  return object(fields)
end

local function char_name(c)
  if c == "" then return "none" end
  if c == "\t" then return "TAB" end
  return "'" .. c .. "'"
end

local EOL_NAMES = { ["\n"] = "LF", ["\r\n"] = "CRLF", ["\r"] = "CR", [""] = "none" }

local function summary(r)
  local lines = {}
  local function line(k, fmt, ...) lines[#lines + 1] = string.format("%-10s" .. fmt, k, ...) end
  line("file", "%s (%d bytes)", r.file, r.size or 0)
  if r.encoding then
    if r.encoding.valid then
      line("encoding", "UTF-8")
    else
      local e = r.encoding.error
      line("encoding", "NOT UTF-8: %s at line %d, column %d (byte offset %d)",
           e.message, e.line, e.column, e.offset)
    end
  end
  local d = r.dialect
  if d then
    line("dialect", "delimiter %s, enclosure %s, escape %s, line ends %s%s",
         char_name(d.delimiter), char_name(d.enclosure), char_name(d.escapedBy),
         EOL_NAMES[d.lineTerminator] or "?", d.bom and ", BOM" or "")
  end
  local h = r.header
  if h then
    line("header", "%d column(s): %s", #h.raw, table.concat(h.raw, ", "))
    line("keboola", "%s", table.concat(h.keboola, ", "))
  end
  if r.rows then line("rows", "%d", r.rows) end
  for _, x in ipairs(r.repairs) do line("repaired", "%s", x) end
  if r.dialect then
    line("upload", "%s%s", r.normalize and "rewritten as RFC 4180" or "as it is",
         r.gzip and ", gzipped" or "")
  end
  local t = r.target
  line("target", "%s", t and place(t) .. (t.assumed and " (if placed at " .. t.assumed .. ")" or "")
                        or "(none)")
  for _, w in ipairs(r.warnings) do line("warning", "%s", w) end
  for _, p in ipairs(r.problems) do line("problem", "%s", p) end
  line("verdict", "%s", (r.verdict.load and "can be loaded: " or "cannot be loaded: ") .. r.verdict.reason)
  return table.concat(lines, "\n") .. "\n"
end

function M.run(path, opts)
  opts = opts or {}
  local out, err = opts.out or io.stdout, opts.err or io.stderr
  local r = M.describe(path, opts.cfg, opts.target)
  if opts.json then
    out:write(to_json(r), "\n")
    if not r.verdict.load then err:write("inspect: ", r.verdict.reason, "\n") end
  else
    out:write(summary(r))
  end
  return r.verdict.load and EXIT.ok or EXIT.failed
end

M._to_json = to_json -- for tests

return M
