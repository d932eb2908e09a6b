-- sync/load.lua - one load of one file (DESIGN 2.3), run as a task:
--   stage -> skip if unchanged -> header check -> upload -> create/import.
-- It reads through an explicit load context and returns a result; it never
-- writes the engine's state (the engine applies what sync.outcome decides).
--
-- Result.status:
--   "ok"        loaded (table_id, rows, bytes, job_id, ...)
--   "unchanged" same fingerprint as the last load: nothing uploaded
--   "adopted"   no state, but the remote table already holds this file
--   "skipped"   policy said no (should_load)
--   "gone"      the file vanished before it could be read
--   "unstable"  the file changed while it was read: settle again
--   "dry_run"   everything up to the first write was done and logged
--   "cancelled" the daemon is stopping: the load is owed, not failed
--   "failed"    class (sync.failure), event, error, action; pause_auth
--               when the Storage API refused the token itself
-- Every result carries .stat (the file's identity before it was read) and
-- .changed_after (true when the file differs from that identity once the
-- load ended: the table holds an older version, so the file is settled
-- and loaded again).
local fs = require "host.fs"
local log = require "host.log"
local stage = require "host.stage"
local task = require "host.task"
local timer = require "host.timer"
local failure = require "sync.failure"
local header = require "sync.header"
local repair = require "sync.repair"
local policy_mod = require "policy"
local spool_feed = require "sync.spool_feed"
local state_mod = require "sync.state"

local M = {}

-- context{...} -> the load context: everything a load reads, nothing more.
--   cfg          the daemon config (staging sizes, watch_dir)
--   spool_dir    where staged copies go
--   client       keboola client (or sync.dry's wrapper)
--   policy       policy object (hooks)
--   remote       sync.remote: tables known in Keboola (put/drop/loaded)
--   webalize_cache  raw name -> Keboola name
--   entry        fn(rel) -> the state's record of the file's last load
--   hint         fn(rel) -> status.json's fingerprint hint, when rebuilding
--   bucket       fn(folder) -> bucket record | nil, err
--   dry_run      bool
function M.context(c)
  return c
end

local function failed(class, event, err, action, extra)
  local o = { status = "failed", class = class, event = event, error = tostring(err),
              action = action or failure.ACTION[class] }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A client error becomes a result of its class.
local function api_failed(err, event, extra)
  if type(err) == "table" and err.code == "cancelled" then return { status = "cancelled" } end
  local class = failure.of_client_error(err)
  -- Refused upload credentials (S3/Azure/GCS) are not a refused token:
  -- the client already asked for fresh ones once; retry the load later.
  local storage_api = type(err) == "table" and type(err.op) == "string"
    and err.op:find("/v2/storage/", 1, true)
  local o = failed(class, event, err, nil, extra)
  o.code = type(err) == "table" and err.code or nil
  if class == "auth" and type(err) == "table" and err.kind == "auth" then
    if storage_api then o.pause_auth = true else o.class = "remote" end
    o.action = failure.ACTION[o.class]
  end
  if class == "file" then
    o.action = "fix the cause named in error; the file is tried again when it changes"
  end
  return o
end

---------------------------------------------------------------- staging

local function stage_error_text(serr)
  local msg = type(serr) == "table" and (serr.message or serr.code) or tostring(serr)
  if type(serr) == "table" and serr.line then
    msg = msg .. string.format(" (line %s, byte offset %s)", tostring(serr.line), tostring(serr.offset))
  end
  return msg
end

-- A staging error, classified: this machine's trouble (I/O, memory, a full
-- spool disk) is retried; a defect of the file waits for it to change.
local function stage_failed(ctx, path, code, msg)
  local class = failure.of_stage_code(code)
  if class == "machine" then
    local where = msg:find(ctx.spool_dir, 1, true) and ctx.spool_dir or path
    return failed("machine", "stage_failed", msg, string.format(
      "free space in (or fix permissions of) %s; the load is retried with back-off", where))
  end
  return failed("file", code == "utf8" and "csv_invalid_encoding" or "csv_invalid", msg,
    "fix the file (see error for line and byte); it is loaded again when it changes")
end

-- Checks what staging found that Keboola would refuse; nil when fine.
local function refusal(r)
  if r.encoding and r.encoding.valid == false then
    local e = r.encoding.error or {}
    return failed("file", "csv_invalid_encoding",
      string.format("not UTF-8 at line %s, byte offset %s: %s", tostring(e.line), tostring(e.offset),
        tostring(e.message)),
      "save the file as UTF-8; it is loaded again when it changes")
  end
  local total = tonumber(r.record_errors_total) or 0
  if total > 0 then
    local first = (r.record_errors or {})[1] or {}
    return failed("file", "csv_invalid",
      string.format("%d record(s) with the wrong number of fields; first at line %s: %s fields, expected %s",
        total, tostring(first.line), tostring(first.got), tostring(first.expected)),
      "fix the listed lines (Keboola would refuse the file); it is loaded again when it changes")
  end
end

---------------------------------------------------------------- overlap

-- The upload of a gzipped spool while staging still writes it
-- (sync.spool_feed): started once the stager has decided to gzip, fed after
-- every step, waited for by the load, or dropped when the file is not
-- loaded after all.
local function start_overlap(ctx, target, estimate)
  local up = { feed = spool_feed.new(estimate), ended = task.event() }
  task.spawn(function()
    local ok, res, err = pcall(ctx.client.upload_file, ctx.client, nil,
      { name = target.table .. ".csv.gz", source = up.feed })
    if ok then up.result, up.err = res, err else up.err = res end
    up.done = true
    up.ended:notify()
  end)
  return up
end

local function overlap_wait(up)
  while not up.done do up.ended:wait() end
  return up.result, up.err
end

-- The file is not loaded (refused, unchanged, failed, stopping): parts not
-- yet sent never are, and the load waits until the upload has ended (an
-- unfinished S3 multipart upload is then aborted, not left billed). A
-- complete upload stays an unused file in Keboola's file storage, which
-- expires it.
local function overlap_drop(up)
  if not up then return end
  up.feed:fail({ kind = "permanent", code = "upload.not_needed",
    message = "the file is not loaded", op = "upload" })
  overlap_wait(up)
end

-- May this load's upload start before staging ends?  Only when it cannot
-- be an upload for nothing: the file's size differs from the version last
-- loaded (so its fingerprint does too), or it was never loaded and its
-- table does not exist yet (an existing table might hold it already and
-- be adopted). And not when staging runs twice (a custom columns() hook
-- renames the header after the first pass) or in a dry run.
local function overlap_allowed(ctx, rel, file, st, entry, target)
  local cfg = ctx.cfg
  if ctx.dry_run or not (cfg.upload and cfg.upload.overlap) then return false end
  if st.size <= (cfg.gzip_threshold or 0) or ctx.policy:is_custom("columns") then return false end
  local hint = ctx.hint(rel)
  local known = (entry and entry.fingerprint) or (hint and hint.fingerprint)
  if known then return tonumber(tostring(known):match("^(%d+)%-")) ~= st.size end
  local bucket = ctx.bucket(file.folder)
  return bucket ~= nil and ctx.remote:get(bucket.id .. "." .. target.table) == nil
end

---------------------------------------------------------------- staging

-- Reads the file once through host.stage; returns the result or nil, result.
-- overlap: a function that starts the upload of the spool while it is
-- written (start_overlap), called once the stager gzips; r.overlap is then
-- that upload.
local function run_stage(ctx, path, spool, names, overlap)
  local cfg = ctx.cfg
  local s, err = stage.open { src = path, spool = spool, header = names,
    gzip_threshold = cfg.gzip_threshold, gzip_level = cfg.gzip_level,
    sample_bytes = cfg.sniff_bytes, repair = repair.options(cfg) }
  if not s then
    if not fs.stat(path) then return nil, { status = "gone" } end
    local code = type(err) == "table" and err.code or "io"
    return nil, stage_failed(ctx, path, code, stage_error_text(err))
  end
  local done, serr, up
  local started = timer.now()
  repeat
    done, serr = s:step(cfg.stage_step_bytes)
    if done == false then
      if overlap and not up then
        local p = s:progress()
        if p and p.gzip then up = overlap() end
      end
      if up then up.feed:update(s) end
      task.yield()
    end
  until done ~= false
  local r = done and s:result() or (s.result and s:result())
  s:close()
  local bad
  if not done then
    local code = type(serr) == "table" and serr.code or tostring(serr):match("^(%w+)")
    if code == "unstable" or (r and r.unstable) then bad = { status = "unstable" }
    elseif not fs.stat(path) then bad = { status = "gone" }
    else bad = stage_failed(ctx, path, code, stage_error_text(serr)) end
  elseif r.unstable then
    bad = { status = "unstable" }
  else
    bad = refusal(r)
  end
  if bad then
    overlap_drop(up)
    fs.remove(spool)
    return nil, bad
  end
  r.spool = r.spool or spool
  if up then up.feed:finish(r.spool, r.spool_bytes); r.overlap = up end
  log.debug("file_staged", { file = path, bytes = r.size, spool_bytes = r.spool_bytes,
    gzip = r.gzip and true or false, rows = r.rows, ms = timer.now() - started,
    upload_started = up and true or nil })
  return r
end

-- The header names staging should write, when a custom columns() hook
-- renames them; nil keeps the file's own header.
local function renamed_header(ctx, file, raw)
  if not ctx.policy:is_custom("columns") then return nil end
  local ok, names = ctx.policy:call("columns", file, raw)
  if not ok then return nil, failed("config", "policy_failed", names, nil, { hook = "columns" }) end
  if type(names) ~= "table" then return nil end
  local same = #names == #raw
  for i = 1, #raw do if names[i] ~= raw[i] then same = false end end
  if same then return nil end
  return names
end

-- Stages the file, a second time when policy.columns renames its header
-- (overlap is then never given: see overlap_allowed).
local function stage_file(ctx, file, spool, overlap)
  local r, out = run_stage(ctx, file.path, spool, nil, overlap)
  if not r then return nil, out end
  local names, nerr = renamed_header(ctx, file, (r.header or {}).raw or {})
  if nerr then fs.remove(r.spool); return nil, nerr end
  if not names then return r end
  fs.remove(r.spool)
  return run_stage(ctx, file.path, spool, names)
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

---------------------------------------------------------------- the steps

-- The header's own defects (empty or duplicate names): nil when fine.
local function header_defects(hdr, table_id)
  if not (hdr.errors and #hdr.errors > 0) then return nil end
  local parts = {}
  for _, e in ipairs(hdr.errors) do
    parts[#parts + 1] = type(e) == "table" and (e.message or e.name or "?") or tostring(e)
  end
  return failed("file", "header_invalid", table.concat(parts, "; "),
    "rename the listed columns in the file's first line; it is loaded again when it changes",
    { table = table_id })
end

-- Without state: does the table already hold this file?  Yes when
-- status.json recorded the same fingerprint for it, or else when the table
-- was imported after the file's last change and the row counts agree
-- (docs/engine.md, "Lost state").
local function already_loaded(ctx, job, remote)
  local hint = ctx.hint(job.rel)
  local r = job.staged
  if hint then return hint.fingerprint == r.fingerprint and hint.table_id == job.table_id end
  local imported = M.parse_iso(remote.lastImportDate)
  local mtime_s = (job.st.mtime_ns or 0) // 1000000000
  return imported ~= nil and imported >= mtime_s and tonumber(remote.rowsCount) == r.rows
end

-- The local header against the table's columns: nil to go on, or a
-- result (a refusal, or "adopted").
local function compare_with_table(ctx, job, remote, names)
  if not (remote and type(remote.columns) == "table") then return nil end
  local d = header.diff(names, remote.columns)
  if not d then
    if job.entry and job.entry.fingerprint then return nil end
    if not already_loaded(ctx, job, remote) then return nil end
    ctx.remote:loaded(job.table_id)
    local r = job.staged
    return { status = "adopted", table_id = job.table_id, fingerprint = r.fingerprint,
             header = r.header.raw, columns = remote.columns, rows = r.rows,
             bucket_id = job.bucket.id, bytes = r.size }
  end
  local ok, decision = ctx.policy:call("on_header_change", job.file, names, remote.columns, d)
  if not ok then
    return failed("config", "policy_failed", decision, nil,
      { hook = "on_header_change", table = job.table_id })
  end
  local difference = header.describe(d, names, remote.columns)
  if decision ~= "load" then
    return failed("file", "header_mismatch", difference,
      "make the file's header match the table's columns again, or change the table in Keboola" ..
      " (or return \"load\" from policy.on_header_change); the file is loaded when it changes",
      { table = job.table_id, missing = table.concat(d.missing, ","), extra = table.concat(d.extra, ","),
        reordered = d.reordered, case_only = d.case_only or nil })
  end
  log.warn("header_change_loading", { table = job.table_id, file = job.rel, difference = difference,
    action = "policy.on_header_change chose to load; check the table's columns in Keboola" })
  job.header_changed = true
  return nil
end

-- "The table is gone" is one error code, not any 404: a 404 may as well
-- name the uploaded file or the bucket.
local function table_gone(err)
  return type(err) == "table" and err.code == "storage.tables.notFound"
end

-- Upload the spool copy, then create the table or load it in full.
-- Returns the result.
local function upload_and_load(ctx, job, remote, names)
  local client, r, table_id = ctx.client, job.staged, job.table_id
  local upload_name = job.target.table .. (r.gzip and ".csv.gz" or ".csv")
  if ctx.dry_run then
    log.info("would_upload", { table = table_id, file = job.rel, name = upload_name,
      bytes = r.spool_bytes, gzip = r.gzip and true or false })
    log.info(remote and "would_load_table" or "would_create_table",
      { table = table_id, file = job.rel, rows = r.rows, incremental = false })
    return { status = "dry_run", table_id = table_id, bytes = r.spool_bytes, rows = r.rows,
             create = not remote }
  end

  local up, uerr
  if r.overlap then
    up, uerr = overlap_wait(r.overlap)
  else
    up, uerr = client:upload_file(r.spool, { name = upload_name, size = r.spool_bytes })
  end
  if not up then return api_failed(uerr, "upload_failed", { table = table_id }) end

  local dialect = dialect_of(r)
  local jobr, t, lerr
  if remote then
    jobr, lerr = client:load_table(table_id, up.id, { dialect = dialect })
    if not jobr and table_gone(lerr) then
      log.warn("table_missing_remotely", { table = table_id, file = job.rel,
        action = "recreating the table from the file" })
      ctx.remote:drop(table_id)
      remote = nil
    end
  end
  if not remote then
    t, jobr = client:create_table(job.bucket.id, job.target.table, up.id, { dialect = dialect })
    if not t then lerr = jobr; jobr = nil end
    if t then
      -- A create job's result may omit columns; they are the file's names.
      if type(t.columns) ~= "table" then t.columns = names end
      t.id = t.id or table_id
      ctx.remote:put(t)
      table_id = t.id
    end
  end
  if not jobr then
    return api_failed(lerr, remote and "import_failed" or "create_failed", { table = table_id })
  end

  local columns = (t and t.columns) or (remote and remote.columns) or names
  if job.header_changed then
    local fresh = client:get_table(table_id)
    if fresh then ctx.remote:put(fresh); columns = fresh.columns or columns end
  end
  local results = type(jobr.results) == "table" and jobr.results or {}
  local rows = tonumber(results.totalRowsCount) or r.rows
  -- Provenance: the table says where its data comes from. The data is in
  -- already, so a refused or failed write is a warning, never a failed load.
  local meta, merr = client:write_provenance(table_id,
    { path = job.rel, size = r.size, fingerprint = r.fingerprint, rows = rows })
  if not meta then
    log.warn("table_metadata_failed", { table = table_id, file = job.rel, error = tostring(merr),
      action = "none needed for the data (it is loaded); the token needs write access to the table" ..
        " for its provenance, written again at the next load" })
  end
  -- The state records this load now: the import facts kept for adopting
  -- a table without state (sync.remote) are no longer needed.
  ctx.remote:loaded(table_id)
  return { status = "ok", table_id = table_id, bucket_id = job.bucket.id, job_id = jobr.id,
           rows = rows, bytes = r.size,
           uploaded_bytes = r.spool_bytes, fingerprint = r.fingerprint, header = r.header.raw,
           columns = columns, file_id = up.id }
end

-- What happens to a staged file: returns the result.
local function load_staged(ctx, job)
  local bucket, berr = ctx.bucket(job.file.folder)
  if not bucket then return api_failed(berr, "bucket_failed") end
  job.bucket = bucket
  job.table_id = bucket.id .. "." .. job.target.table
  -- A table adopted by its display name (renamed in the UI) keeps the id
  -- the state recorded: look it up by that id, not by the name.
  local e = job.entry
  if e and e.table_id and e.table_id ~= job.table_id and e.bucket_id == bucket.id
      and not ctx.remote:get(job.table_id) and ctx.remote:get(e.table_id) then
    job.table_id = e.table_id
  end
  local r = job.staged
  r.header = r.header or {}
  local bad = header_defects(r.header, job.table_id)
  if bad then return bad end
  local webalize = not ctx.dry_run and function(list) return ctx.client:webalize(list) end or nil
  local names, werr = header.keboola_names(r.header, ctx.webalize_cache, webalize)
  if not names then return api_failed(werr, type(werr) == "table" and werr.event or "webalize_failed") end

  local remote = ctx.remote:get(job.table_id)
  local entry = job.entry
  if entry and entry.fingerprint == r.fingerprint and remote and entry.table_id == job.table_id then
    return { status = "unchanged", table_id = job.table_id, fingerprint = r.fingerprint }
  end
  -- What policy.repair changed, once per load (not for an unchanged file).
  local fixed = repair.summary(r.repair)
  if fixed then
    local f = fixed.fields
    f.table, f.file = job.table_id, job.rel
    f.action = "none needed: policy.repair changed this on the way to Keboola (the file is" ..
      " unchanged); fix the file at its source to stop the repairs"
    log.warn("csv_repaired", f)
  end
  local stop = compare_with_table(ctx, job, remote, names)
  if stop then return stop end
  return upload_and_load(ctx, job, remote, names)
end

---------------------------------------------------------------- the load

-- run(ctx, rel, target) -> result.  target: sync.folders' answer for rel
-- (computed once, by the engine).  The spool copy is always removed.
function M.run(ctx, rel, target)
  local file = policy_mod.file_info(ctx.cfg.watch_dir, rel)
  local st = fs.stat(file.path)
  if not st or st.type ~= "file" then return { status = "gone" } end
  local key = state_mod.stat_key(st)
  local entry = ctx.entry(rel)
  local result
  local ok, go = ctx.policy:call("should_load", file, entry)
  if not ok then
    result = failed("config", "policy_failed", go, nil, { hook = "should_load" })
  elseif go == false then
    result = { status = "skipped", reason = "policy.should_load returned false" }
  else
    fs.mkdir_p(ctx.spool_dir)
    local overlap = overlap_allowed(ctx, rel, file, st, entry, target)
      and function() return start_overlap(ctx, target, st.size + st.size // 100 + (1 << 20)) end
    local staged, bad = stage_file(ctx, file, spool_path(ctx, target.table), overlap or nil)
    if not staged then
      result = bad
    else
      local job = { rel = rel, file = file, target = target, st = st, entry = entry, staged = staged }
      local cok, out = xpcall(load_staged, debug.traceback, ctx, job)
      overlap_drop(staged.overlap)
      fs.remove(staged.spool)
      if not cok then error(out, 0) end
      result = out
    end
  end
  result.stat = key
  result.table = result.table or result.table_id or (target.bucket .. "/" .. target.table)
  -- Still the bytes that were staged?  A write during the upload leaves
  -- the table one version behind: say so, the engine settles it again.
  if result.status == "ok" or result.status == "unchanged" or result.status == "adopted" then
    local now = fs.stat(file.path)
    result.changed_after = not now or state_mod.stat_key(now) ~= key
  end
  return result
end

return M
