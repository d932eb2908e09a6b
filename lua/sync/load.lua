-- sync/load.lua - one load of one file (DESIGN 2.3), run as a task:
--   stage -> skip if unchanged -> header check -> upload -> create/import
--   -> state.
-- Returns an outcome table for the engine; never raises on expected
-- failures.  Outcome.status:
--   "ok"        loaded (table_id, rows, bytes, job_id)
--   "unchanged" same fingerprint as the last load: nothing uploaded
--   "adopted"   no state, but the remote table already holds this file
--   "skipped"   policy said no (should_load) or the file is not ours
--   "gone"      the file vanished before it could be read
--   "unstable"  the file changed while it was read: settle again
--   "dry_run"   everything up to the first write was done and logged
--   "failed"    kind = "permanent" | "retryable" | "auth" | "policy",
--               with event, error and action for the log
-- ctx (the engine) provides: cfg, client, policy, state, dry_run, folders
-- (:target(rel)), remote (sync.remote), webalize_cache, spool_dir,
-- ctx:bucket(folder), ctx:now_iso().
local fs = require "host.fs"
local log = require "host.log"
local task = require "host.task"
local timer = require "host.timer"
local header = require "sync.header"
local policy_mod = require "policy"
local state_mod = require "sync.state"

local M = {}

local have_stage, stage = pcall(require, "host.stage")

local function failed(kind, event, err, action, extra)
  local o = { status = "failed", kind = kind, event = event, error = tostring(err), action = action }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A client error becomes an outcome of the same kind.
local function api_failed(err, what)
  local kind = type(err) == "table" and err.kind or "retryable"
  -- Refused upload credentials (S3/Azure/GCS) are not a refused token:
  -- the client already asked for fresh ones once; try the load again later
  -- instead of pausing all work.
  if kind == "auth" and type(err.op) == "string" and not err.op:find("/v2/storage/", 1, true) then
    kind = "retryable"
  end
  local action = ({
    permanent = "fix the cause named in error; the file is tried again when it changes",
    retryable = "nothing: the load is retried with back-off",
    auth = "check KBC_STORAGE_API_TOKEN; work resumes once the token is accepted",
  })[kind] or "see error"
  return failed(kind, what, err, action, { code = type(err) == "table" and err.code or nil })
end

---------------------------------------------------------------- staging

-- Reads the file once through host.stage; returns result or nil, outcome.
local function run_stage(ctx, path, spool, names)
  if not have_stage then
    return nil, failed("permanent", "staging_unavailable", "this build has no host.stage",
      "install a complete kbsyncd build")
  end
  local s, err = stage.open { src = path, spool = spool, header = names,
    gzip_threshold = ctx.cfg.gzip_threshold, gzip_level = ctx.cfg.gzip_level,
    sample_bytes = ctx.cfg.sniff_bytes }
  if not s then
    if not fs.stat(path) then return nil, { status = "gone" } end
    local msg = type(err) == "table" and (err.message or err.code) or tostring(err)
    return nil, failed("permanent", "stage_failed", msg, "check that the file is readable")
  end
  local done, serr
  repeat
    done, serr = s:step(ctx.cfg.stage_step_bytes)
    if done == false then task.yield() end
  until done ~= false
  local r = done and s:result() or (s.result and s:result())
  s:close()
  if not done then
    fs.remove(spool)
    local code = type(serr) == "table" and serr.code or tostring(serr):match("^(%w+)")
    if code == "unstable" or (r and r.unstable) then return nil, { status = "unstable" } end
    if not fs.stat(path) then return nil, { status = "gone" } end
    local kind = (code == "io" or code == "memory") and "retryable" or "permanent"
    local msg = type(serr) == "table" and (serr.message or serr.code) or tostring(serr)
    if type(serr) == "table" and serr.line then
      msg = msg .. string.format(" (line %s, byte offset %s)", tostring(serr.line), tostring(serr.offset))
    end
    return nil, failed(kind, code == "utf8" and "csv_invalid_encoding" or "csv_invalid", msg,
      "fix the file (see error for line and byte); it is loaded again when it changes")
  end
  if r.unstable then fs.remove(spool); return nil, { status = "unstable" } end
  if r.encoding and r.encoding.valid == false then
    fs.remove(spool)
    local e = r.encoding.error or {}
    return nil, failed("permanent", "csv_invalid_encoding",
      string.format("not UTF-8 at line %s, byte offset %s: %s", tostring(e.line), tostring(e.offset),
        tostring(e.message)),
      "save the file as UTF-8; it is loaded again when it changes")
  end
  local total = tonumber(r.record_errors_total) or 0
  if total > 0 then
    fs.remove(spool)
    local first = (r.record_errors or {})[1] or {}
    return nil, failed("permanent", "csv_invalid",
      string.format("%d record(s) with the wrong number of fields; first at line %s: %s fields, expected %s",
        total, tostring(first.line), tostring(first.got), tostring(first.expected)),
      "fix the listed lines (Keboola would refuse the file); it is loaded again when it changes")
  end
  return r
end

-- The header names staging should write, when a custom columns() hook
-- renames them; nil keeps the file's own header.
local function renamed_header(ctx, file, raw)
  if not ctx.policy:is_custom("columns") then return nil end
  local ok, names = ctx.policy:call("columns", file, raw)
  if not ok then return nil, failed("policy", "policy_failed", names,
    "fix policy.columns in the config; the file is tried again when it changes", { hook = "columns" }) end
  if type(names) ~= "table" then return nil end
  local same = #names == #raw
  for i = 1, #raw do if names[i] ~= raw[i] then same = false end end
  if same then return nil end
  return names
end

---------------------------------------------------------------- helpers

-- "2024-01-31T22:00:00+0000" -> epoch seconds (UTC), nil when unparsable.
function M.parse_iso(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant's algorithm)
  if mo <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  local off = 0
  local sign, oh, om = s:match("([%+%-])(%d%d):?(%d%d)$")
  if sign then off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1) end
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - off
end

local function dialect_of(r)
  local u = r.upload or r.dialect or {}
  return { delimiter = u.delimiter, enclosure = u.enclosure, escaped_by = u.escapedBy or u.escaped_by }
end

local function spool_path(ctx, table_name)
  return fs.join(ctx.spool_dir, string.format("%s-%d-%d.csv", table_name,
    task.id() or 0, timer.now()))
end

---------------------------------------------------------------- the load

local function load_staged(ctx, rel, file, target, st, r, entry)
  local cfg, client, state = ctx.cfg, ctx.client, ctx.state
  local bucket, berr = ctx:bucket(file.folder)
  if not bucket then return api_failed(berr, "bucket_failed") end
  local table_id = bucket.id .. "." .. target.table
  local remote = ctx.remote:get(table_id)
  local hdr = r.header or {}
  if hdr.errors and #hdr.errors > 0 then
    local parts = {}
    for _, e in ipairs(hdr.errors) do parts[#parts + 1] = type(e) == "table" and (e.message or e.name or "?") or tostring(e) end
    return failed("permanent", "header_invalid", table.concat(parts, "; "),
      "rename the listed columns in the file's first line; it is loaded again when it changes",
      { table = table_id })
  end
  local webalize = not ctx.dry_run and function(list) return client:webalize(list) end or nil
  local local_names, werr = header.keboola_names(hdr, ctx.webalize_cache, webalize)
  if not local_names then return api_failed(werr, "webalize_failed") end

  -- 2. Unchanged since the last successful load: nothing to upload.
  if entry and entry.fingerprint == r.fingerprint and remote and entry.table_id == table_id then
    return { status = "unchanged", table_id = table_id, fingerprint = r.fingerprint }
  end

  -- 3. Header against the table's columns.
  if remote and type(remote.columns) == "table" then
    local d = header.diff(local_names, remote.columns)
    if d then
      local ok, decision = ctx.policy:call("on_header_change", file, local_names, remote.columns, d)
      if not ok then
        return failed("policy", "policy_failed", decision,
          "fix policy.on_header_change in the config; the file is tried again when it changes",
          { hook = "on_header_change", table = table_id })
      end
      if decision ~= "load" then
        return failed("permanent", "header_mismatch", header.describe(d, local_names, remote.columns),
          "make the file's header match the table's columns again, or change the table in Keboola" ..
          " (or return \"load\" from policy.on_header_change); the file is loaded when it changes",
          { table = table_id, missing = table.concat(d.missing, ","), extra = table.concat(d.extra, ","),
            reordered = d.reordered })
      end
      log.warn("header_change_loading", { table = table_id, file = rel,
        difference = header.describe(d, local_names, remote.columns),
        action = "policy.on_header_change chose to load; check the table's columns in Keboola" })
    elseif not entry or not entry.fingerprint then
      -- Rebuilding without state.  The table already holds this file when
      -- status.json recorded the same fingerprint for it, or else when the
      -- table was imported after the file's last change and the row counts
      -- agree (docs/engine.md, "Lost state").
      local hint = ctx.fingerprint_hints and ctx.fingerprint_hints[rel]
      local imported = M.parse_iso(remote.lastImportDate)
      local mtime_s = (st.mtime_ns or 0) // 1000000000
      local by_hint = hint and hint.fingerprint == r.fingerprint and hint.table_id == table_id
      local by_time = not hint and imported and imported >= mtime_s and tonumber(remote.rowsCount) == r.rows
      if by_hint or by_time then
        ctx.remote:loaded(table_id)
        return { status = "adopted", table_id = table_id, fingerprint = r.fingerprint,
                 header = hdr.raw, columns = remote.columns, rows = r.rows, bucket_id = bucket.id,
                 bytes = r.size }
      end
    end
  end

  local upload_name = target.table .. (r.gzip and ".csv.gz" or ".csv")
  if ctx.dry_run then
    log.info("would_upload", { table = table_id, file = rel, name = upload_name,
      bytes = r.spool_bytes, gzip = r.gzip and true or false })
    log.info(remote and "would_load_table" or "would_create_table",
      { table = table_id, file = rel, rows = r.rows, incremental = false })
    return { status = "dry_run", table_id = table_id }
  end

  -- 4. Upload the spool copy.
  local up, uerr = client:upload_file(r.spool, { name = upload_name, size = r.spool_bytes })
  if not up then return api_failed(uerr, "upload_failed") end

  -- 5. Create the table, or load it in full.
  local dialect = dialect_of(r)
  local job, t, lerr
  if remote then
    job, lerr = client:load_table(table_id, up.id, { dialect = dialect })
    if not job and type(lerr) == "table" and lerr.status == 404 then
      log.warn("table_missing_remotely", { table = table_id, file = rel,
        action = "recreating the table from the file" })
      ctx.remote:drop(table_id)
      remote = nil
    end
  end
  if not remote then
    t, job = client:create_table(bucket.id, target.table, up.id, { dialect = dialect })
    if not t then lerr = job; job = nil end
    if t then
      -- A create job's result may omit columns; they are the file's names.
      if type(t.columns) ~= "table" then t.columns = local_names end
      t.id = t.id or table_id
      ctx.remote:put(t)
      table_id = t.id
    end
  end
  if not job then return api_failed(lerr, remote and "import_failed" or "create_failed") end

  local columns = (t and t.columns) or (remote and remote.columns) or local_names
  if remote and header.diff(local_names, remote.columns or {}) then
    local fresh = client:get_table(table_id)
    if fresh then ctx.remote:put(fresh); columns = fresh.columns or columns end
  end
  local results = type(job.results) == "table" and job.results or {}
  local rows = tonumber(results.totalRowsCount) or r.rows
  -- The state records this load now: the import facts kept for adopting
  -- a table without state (sync.remote) are no longer needed.
  ctx.remote:loaded(table_id)
  return { status = "ok", table_id = table_id, bucket_id = bucket.id, job_id = job.id,
           rows = rows, bytes = r.size, uploaded_bytes = r.spool_bytes,
           fingerprint = r.fingerprint, header = hdr.raw, columns = columns,
           file_id = up.id }
end

-- The load proper; returns outcome.  The spool copy is always removed.
local function run(ctx, rel, file, target, st)
  local entry = ctx.state:file(rel)
  local ok, go = ctx.policy:call("should_load", file, entry)
  if not ok then
    return failed("policy", "policy_failed", go,
      "fix policy.should_load in the config; the file is tried again when it changes", { hook = "should_load" })
  end
  if go == false then return { status = "skipped", reason = "policy.should_load returned false" } end

  fs.mkdir_p(ctx.spool_dir)
  local spool = spool_path(ctx, target.table)
  local r, out = run_stage(ctx, file.path, spool, nil)
  if not r then return out end
  local names, nerr = renamed_header(ctx, file, (r.header or {}).raw or {})
  if nerr then fs.remove(spool); return nerr end
  if names then
    fs.remove(spool)
    r, out = run_stage(ctx, file.path, spool, names)
    if not r then return out end
  end
  r.spool = r.spool or spool
  local ok2, outcome = xpcall(load_staged, debug.traceback, ctx, rel, file, target, st, r, entry)
  fs.remove(spool)
  if r.spool ~= spool then fs.remove(r.spool) end
  if not ok2 then error(outcome, 0) end
  return outcome
end

-- run(ctx, rel) -> outcome, with .stat (the file's identity before it was
-- read: a later change makes the next look differ) and .table.
function M.run(ctx, rel)
  local target, why = ctx.folders:target(rel)
  if not target then return { status = "skipped", reason = why } end
  local file = policy_mod.file_info(ctx.cfg.watch_dir, rel)
  local st = fs.stat(file.path)
  if not st or st.type ~= "file" then return { status = "gone" } end
  local o = run(ctx, rel, file, target, st)
  o.stat = state_mod.stat_key(st)
  o.table = o.table or o.table_id or (target.bucket .. "/" .. target.table)
  return o
end

return M
