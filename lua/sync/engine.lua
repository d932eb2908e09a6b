-- sync/engine.lua - the daemon's life: start, reconcile, watch, settle,
-- schedule loads, stop or reload (DESIGN section 2).
--
--   local e = require("sync.engine").new(cfg, {once = bool, dry_run = bool})
--   local rc = e:run()        -- in the main task; 0, 1, 3 or "reload"
--   e:stop("stop"|"reload")   -- from a signal handler; never yields
--
-- Pieces: sync/reconcile (what to load at start), sync/settle (dirty set,
-- two looks), sync/scheduler (one task per table, coalescing,
-- max_parallel), sync/load (one load), sync/state and sync/status (files
-- in state_dir), sync/folders (the local view: scans, targets,
-- collisions), sync/outcome (what a finished load changes).
-- docs/engine.md lists every log event and what to do about it.
local cjson = require "cjson"
local fs = require "host.fs"
local kv = require "host.kv"
local log = require "host.log"
local task = require "host.task"
local timer = require "host.timer"
local kbc = require "keboola"
local policy_mod = require "policy"
local fswatch = require "sync.fswatch"
local folders_mod = require "sync.folders"
local load = require "sync.load"
local outcome_mod = require "sync.outcome"
local reconcile = require "sync.reconcile"
local remote_mod = require "sync.remote"
local scheduler_mod = require "sync.scheduler"
local settle_mod = require "sync.settle"
local state_mod = require "sync.state"
local status_mod = require "sync.status"
local dry = require "sync.dry"

local M = {}

local EXIT_OK, EXIT_FAILED, EXIT_AUTH = 0, 1, 3
local STARTUP_RETRY_CAP_MS = 60000

-- After a start-up step that made much garbage (decoding the state file,
-- the table list, the first scan): collect it now, so the next step reuses
-- that memory instead of growing the heap around it.  What outlives the
-- start (little: sync.state, sync.folders and sync.remote keep their
-- records in host.kv) would otherwise sit scattered over a large heap and
-- keep its pages resident for the daemon's life.
local function collect_burst() collectgarbage("collect") end

local Engine = {}
Engine.__index = Engine

function M.new(cfg, opts)
  opts = opts or {}
  local e = setmetatable({
    cfg = cfg, once = opts.once == true, dry_run = opts.dry_run == true or cfg.dry_run == true,
    spool_dir = fs.join(cfg.state_dir, "spool"),
    remote = remote_mod.new(), webalize_cache = {},
    buckets = kv.new(), bucket_inflight = {}, attempts = {}, failed_now = {},
    loaded_now = 0, unchanged_now = 0,
  }, Engine)
  e.policy = policy_mod.new(cfg)
  return e
end

---------------------------------------------------------------- helpers

function Engine:now_iso() return timer.iso(timer.wall()) end

-- Our process id, when the OS tells (Linux /proc): status.json names the
-- daemon that wrote it.
local function own_pid()
  local stat = fs.read("/proc/self/stat", 4096)
  return stat and tonumber(stat:match("^(%d+)")) or nil
end

function Engine:live()
  return {
    mode = self.once and "once" or "run", started_at = self.started_at, pid = self.pid,
    backend = self.backend_name,
    running = self.sched and self.sched.running or {},
    dirty = self.settle and self.settle:count() or 0,
    paused_reason = self.auth_paused and "token rejected (HTTP 401)" or nil,
    dry_run = self.dry_run,
  }
end

-- State and status go to disk at most every 200 ms while work flows.  After
-- a successful load (save_after_load) they are written at once, unless a
-- save happened less than a second ago: then the write joins the next
-- batch, so a first sync of thousands of files does not rewrite a
-- multi-megabyte state.json after every single load.  A crash inside that
-- window costs at most a repeated (identical) full load, never a lost one.
function Engine:save_now()
  if self.dry_run then return end
  self.last_save_ms = timer.now()
  self.state:save()
  local ok, err = status_mod.write(self.cfg.state_dir, status_mod.build(self.state, self:live()))
  if not ok then log.warn("status_write_failed", { error = err,
    action = "check permissions of state_dir; status.json is rewritten at the next change" }) end
end

function Engine:save_after_load()
  if self.last_save_ms and timer.now() - self.last_save_ms < 1000 then return self:save_soon() end
  self:save_now()
end

function Engine:save_soon()
  if self.save_scheduled or self.dry_run then return end
  self.save_scheduled = true
  task.spawn(function()
    timer.sleep(200)
    self.save_scheduled = false
    self:save_now()
  end)
end

-- Without a state, status.json (when it survived) still says which
-- fingerprint each file had at its last load: a file that stages to the
-- same fingerprint is adopted without an upload.
function Engine:load_hints()
  self.fingerprint_hints = {}
  local doc = status_mod.read(self.cfg.state_dir)
  for _, t in ipairs(type(doc) == "table" and type(doc.tables) == "table" and doc.tables or {}) do
    if type(t) == "table" and type(t.file) == "string" and type(t.fingerprint) == "string" then
      self.fingerprint_hints[t.file] = { fingerprint = t.fingerprint, table_id = t.table_id }
    end
  end
end

-- Remove spool files a killed run left behind.
function Engine:clean_spool()
  local names = fs.list(self.spool_dir)
  for _, n in ipairs(names or {}) do fs.remove(fs.join(self.spool_dir, n)) end
  if names and #names > 0 then
    log.info("spool_cleaned", { files = #names, dir = self.spool_dir })
  end
end

-- Runs fn in its own task and waits for it, polling so that a stop()
-- can end the wait (the host cannot cancel an HTTP call from a signal).
function Engine:await(fn)
  local box = {}
  task.spawn(function() box.r = table.pack(fn()); box.done = true end)
  while not box.done do
    if self.stop_mode then return nil, "stopping" end
    timer.sleep(50)
  end
  return table.unpack(box.r, 1, box.r.n)
end

---------------------------------------------------------------- buckets

-- The bucket of a folder: from the remote list, else created (in a
-- dry run: logged).  Two tasks asking at once share one call.
function Engine:bucket(folder)
  while self.bucket_inflight[folder] do timer.sleep(20) end
  local known = self.buckets:get(folder)
  if known then return cjson.decode(known) end
  local name, why = self.folders:bucket_name(folder)
  if not name then
    return nil, { kind = "permanent", message = why }
  end
  local stage = self.cfg.stage
  local list = self.remote:buckets()
  local found = kbc.find_bucket(list, name, stage)
  if found then self.buckets:set(folder, cjson.encode(found)); return found end
  if self.dry_run then
    log.info("would_create_bucket", { folder = folder, bucket = stage .. ".c-" .. name })
    local fake = { id = stage .. ".c-" .. name, name = "c-" .. name, stage = stage, dry = true }
    self.buckets:set(folder, cjson.encode(fake))
    return fake
  end
  self.bucket_inflight[folder] = true
  local b, err = self.client:ensure_bucket(name, { buckets = list, stage = stage })
  self.bucket_inflight[folder] = nil
  if not b then return nil, err end
  self.buckets:set(folder, cjson.encode(self.remote:put_bucket(b)))
  log.info("bucket_ready", { folder = folder, bucket = b.id })
  return b
end

-- New folders get their bucket at once, not at their first file.
function Engine:ensure_bucket_soon(folder)
  if self.buckets:get(folder) or self.folders:blocked_folder(folder) then return end
  if not self.folders:bucket_name(folder) then return end
  task.spawn(function()
    local b, err = self:bucket(folder)
    if not b and not self.stop_mode then
      log.error("bucket_failed", { folder = folder, error = tostring(err),
        kind = type(err) == "table" and err.kind or nil,
        action = "check the token's permission to create buckets; the folder is tried again at its next change" })
    end
  end)
end

---------------------------------------------------------------- work

-- A file that cannot be loaded until someone acts (folders.lua logged
-- the ERROR): recorded as a failure, so `once` and `status` report it.
function Engine:note_blocked(rel, st, reason, event)
  local f = self.state:failure(rel)
  local key = state_mod.stat_key(st)
  if f and f.stat == key and f.event == event then return end
  self.state:set_failure(rel, { kind = "permanent", event = event, error = reason, blocked = true,
    action = "see the " .. event .. " ERROR line in the log", at = self:now_iso(), stat = key })
  self.state:set_pending(rel, nil)
  self:save_soon()
end

-- Submits rel when it has a target; records it as blocked otherwise.
function Engine:offer(rel, st)
  local target, why, event = self.folders:target(rel)
  if target then self:submit(rel); return true end
  if event then self:note_blocked(rel, st, why, event) end
  return false
end

function Engine:submit(rel)
  if not self.state:is_pending(rel) then
    self.state:set_pending(rel, true)
    self:save_soon()
  end
  self.sched:submit(rel)
end

-- After a folder (or everything) was looked at again: every changed file
-- goes through settling; new folders get a bucket.
function Engine:on_changes(changes)
  for _, c in ipairs(changes) do
    if c.kind == "file" then
      self.settle:touch(c.rel, c.st)
    elseif c.kind == "deleted" then
      self.settle:forget(c.rel)
      -- Its failure and pending work go with it; its table stays.
      if self.state:failure(c.rel) or self.state:is_pending(c.rel) then
        self.state:set_failure(c.rel, nil)
        self.state:set_pending(c.rel, nil)
        self:save_soon()
      end
    elseif c.kind == "new_folder" then
      self:ensure_bucket_soon(c.folder)
    end
  end
end

function Engine:handle_events(events)
  for _, ev in ipairs(events) do
    if ev.type == "overflow" then
      log.info("rescan", { reason = "watcher overflow: events were lost",
        action = "none; if this repeats, raise fs.inotify.max_queued_events" })
      self:on_changes(self.folders:rescan_all())
      self:touch_unloaded()
    elseif ev.type == "poll" then
      self:on_changes(self.folders:rescan_all())
    elseif ev.type == "limit" then
      log.warn("watch_limit", { folder = ev.folder, message = ev.message,
        action = "raise the kernel limit named in message; meanwhile that part is polled" })
      if ev.folder and ev.folder ~= "" then
        self:on_changes(self.folders:rescan_folder(ev.folder))
      else
        self:on_changes(self.folders:rescan_all())
      end
    elseif ev.type == "dirty" then
      if ev.folder == "" or ev.folder == nil then
        self:on_changes(self.folders:rescan_root())
      else
        self:on_changes(self.folders:rescan_folder(ev.folder))
      end
    end
  end
end

-- After an overflow: any file whose bytes differ from its last load and
-- that is not already on its way gets settled and loaded.
function Engine:touch_unloaded()
  for rel, st in pairs(self.folders:files()) do
    if not self.settle:has(rel) and not self.sched:is_running(rel) and not self.sched:is_queued(rel)
        and self.folders:target(rel) then
      local need = reconcile.needs_load(self.state, nil, rel, st)
      if need then self.settle:touch(rel, st) end
    end
  end
end

function Engine:on_done(rel, o)
  outcome_mod.apply(self, rel, o)
end

function Engine:auth_paused_loop()
  if self.auth_task then return end
  self.auth_task = true
  task.spawn(function()
    while self.auth_paused and not self.stop_mode do
      timer.sleep(self.cfg.auth_recheck_s * 1000)
      if self.stop_mode then break end
      local ok, err = self.client:verify_token()
      if ok then
        log.info("token_accepted", { action = "none: loads resume" })
        self.auth_paused = false
        self.sched:resume()
      else
        log.error("token_rejected", { error = tostring(err), retry_in_s = self.cfg.auth_recheck_s,
          action = "set a valid KBC_STORAGE_API_TOKEN (in .env) and send HUP, or wait: it is checked again" })
      end
    end
    self.auth_task = nil
  end)
end

function Engine:pause_for_auth(err)
  if self.auth_paused then return end
  self.auth_paused = true
  self.sched:pause()
  log.error("token_rejected", { error = tostring(err), retry_in_s = self.cfg.auth_recheck_s,
    action = "set a valid KBC_STORAGE_API_TOKEN (in .env) and send HUP; all loads are paused until then" })
  if not self.once then self:auth_paused_loop() end
end

---------------------------------------------------------------- start

-- The remote side; in `run` a network that is down is waited for (the
-- client retries), in `once` a failure ends the run.
function Engine:start_remote()
  local attempt = 0
  while true do
    local remote, err = self:await(function() return reconcile.fetch_remote(self.client) end)
    if remote then return remote end
    if self.stop_mode then return nil, "stopping" end
    if type(err) == "table" and err.kind == "auth" then
      log.error("token_rejected", { error = tostring(err),
        action = "set a valid KBC_STORAGE_API_TOKEN in .env (or the environment) and start again" })
      return nil, err, EXIT_AUTH
    end
    if self.once or (type(err) == "table" and err.kind == "permanent") then
      log.error("keboola_unreachable", { error = tostring(err),
        action = "check KBC_STORAGE_API_HOST, the network and the token's permissions" })
      return nil, err, EXIT_FAILED
    end
    attempt = attempt + 1
    local ms = math.min(STARTUP_RETRY_CAP_MS, 1000 * 2 ^ math.min(attempt, 10))
    log.warn("keboola_unreachable", { error = tostring(err), retry_in_ms = ms,
      action = "none if temporary: retrying; check the network and KBC_STORAGE_API_HOST" })
    local until_ms = timer.now() + ms
    while timer.now() < until_ms and not self.stop_mode do timer.sleep(100) end
  end
end

function Engine:setup()
  local cfg = self.cfg
  fs.mkdir_p(cfg.state_dir)
  self.state = state_mod.load(cfg.state_dir)
  collect_burst()
  -- A missing state.json in a state_dir that was used before (status.json
  -- is there) means it was deleted: say so, it costs restaging every file.
  local used_before = fs.stat(fs.join(cfg.state_dir, "status.json")) ~= nil
  if self.state.rebuilt and (not self.state.missing or used_before) then
    log.warn("state_rebuilt", { path = self.state.path, reason = self.state.reason,
      action = "none: it is rebuilt from the folder and Keboola (every file is read once; " ..
        "tables imported after their file's last change are not uploaded again)" })
  elseif self.state.missing then
    log.info("state_new", { path = self.state.path })
  end
  if self.state.rebuilt then self:load_hints() end
  self:clean_spool()
  self.client = kbc.new {
    host = cfg.keboola.host, token = cfg.keboola.token,
    s3_endpoint = cfg.keboola.s3_endpoint, gcs_endpoint = cfg.keboola.gcs_endpoint,
    http = cfg.http, retry = cfg.retry, jobs = cfg.jobs, upload = cfg.upload,
    tags = cfg.keboola.tags,
  }
  if self.dry_run then self.client = dry.wrap(self.client) end
  self.folders = folders_mod.new(cfg, self.policy)
  self.settle = settle_mod.new { settle_ms = cfg.settle_ms, now = timer.now,
    stat = function(rel) return self.folders:stat(rel) end }
  self.sched = scheduler_mod.new { max_parallel = cfg.max_parallel,
    worker = function(rel) return load.run(self, rel) end,
    on_done = function(rel, o) self:on_done(rel, o) end }
end

function Engine:reconcile_local()
  local files, on_disk = self.folders:rescan_all_initial()
  collect_burst()
  for folder in pairs(self.folders:folder_names()) do self:ensure_bucket_soon(folder) end
  local queued = 0
  local reasons = {}
  local rels = {}
  for rel in pairs(files) do rels[#rels + 1] = rel end
  table.sort(rels)
  for _, rel in ipairs(rels) do
    local need, why = reconcile.needs_load(self.state, self.remote, rel, files[rel])
    if need and self:offer(rel, files[rel]) then
      queued = queued + 1
      reasons[why] = (reasons[why] or 0) + 1
    end
  end
  -- Forget files that are gone; their tables stay in Keboola.
  local recorded = {} -- table id -> true: tables the state records a load of
  for rel in pairs(self.state:files()) do
    local e = self.state:file(rel)
    if not on_disk[rel] then
      log.info("file_missing_locally", { file = rel, table = e.table_id,
        action = "none: the table stays in Keboola; delete it there if it is no longer needed" })
      self.state:set_file(rel, nil)
      self.state:set_pending(rel, nil)
      self.state:set_failure(rel, nil)
    elseif e.fingerprint and e.table_id then
      recorded[e.table_id] = true
    end
  end
  self.remote:forget_imports(function(id) return recorded[id] end)
  for rel in pairs(self.state:pending()) do
    if not on_disk[rel] then self.state:set_pending(rel, nil) end
  end
  for rel in pairs(self.state:failures()) do
    if not on_disk[rel] then self.state:set_failure(rel, nil) end
  end
  local n = 0
  for _ in pairs(files) do n = n + 1 end
  log.info("reconciled", { files = n, to_load = queued, new = reasons.new or 0,
    changed = reasons.changed or 0, pending = reasons.pending or 0,
    table_missing_remotely = reasons.table_missing_remotely or 0,
    remote_tables = self.remote_table_count, dry_run = self.dry_run or nil })
  self:save_now()
end

---------------------------------------------------------------- run

function Engine:open_watcher()
  local w, err = fswatch.open { root = self.cfg.watch_dir, backend = self.cfg.watcher,
    interval_ms = self.cfg.poll_interval_ms }
  if not w then return nil, err end
  self.watcher = w
  self.backend_name = w:backend()
  log.info("watching", { dir = self.cfg.watch_dir, backend = w:backend() })
  local after = tonumber(require("host.env").get("KBSYNCD_TEST_OVERFLOW_AFTER_MS") or "")
  if after then
    task.spawn(function()
      timer.sleep(math.floor(after))
      if self.watcher and not self.stop_mode then
        log.info("test_overflow_injected", { after_ms = math.floor(after) })
        self.watcher:inject_overflow()
      end
    end)
  end
  return true
end

-- The loop of `run` (and of `once`, without a watcher): events in,
-- settled files out to the scheduler.
function Engine:loop()
  while not self.stop_mode do
    if self.once and self.sched:idle() and self.settle:count() == 0 then break end
    if self.once and self.auth_paused then break end
    local deadline = self.settle:next_deadline()
    local timeout = deadline and math.max(0, deadline - timer.now()) or nil
    if self.once or not self.watcher then
      timer.sleep(math.min(timeout or 100, 100))
    else
      if timeout == nil then self:release_when_idle() end
      local events, err = self.watcher:wait(timeout)
      if not events then
        if not self.stop_mode then
          log.error("watcher_failed", { error = err, action = "restart kbsyncd" })
          self.stop_mode = "stop"
        end
        break
      end
      self:handle_events(events)
    end
    local ready = self.settle:due()
    for _, r in ipairs(ready) do self:offer(r.rel, r.st) end
  end
end

-- Before an indefinite wait: once the last loads and the state save are
-- done, give the garbage of the burst back to the OS (an idle daemon
-- allocates nothing, so the collector would never run again).
function Engine:release_when_idle()
  if self.release_pending then return end
  self.release_pending = true
  task.spawn(function()
    repeat
      timer.sleep(1000)
    until self.stop_mode or (self.sched:idle() and self.settle:count() == 0 and not self.save_scheduled)
    self.release_pending = false
    if self.stop_mode then return end
    local bytes = task.release_memory()
    log.debug("memory_released", { lua_bytes = bytes, kv_bytes = kv.total_bytes() })
  end)
end

-- Let running loads finish (up to shutdown_grace_s), then record what is
-- still owed so the next start does it.
function Engine:drain()
  self.sched:close()
  local deadline = timer.now() + self.cfg.shutdown_grace_s * 1000
  if self.sched.nrunning > 0 then
    log.info("draining", { running = self.sched.nrunning, grace_s = self.cfg.shutdown_grace_s })
  end
  while self.sched.nrunning > 0 and timer.now() < deadline do timer.sleep(50) end
  local owed = self.sched:owed()
  for rel in pairs(self.settle and self.settle.dirty or {}) do owed[rel] = true end
  local cancelled = {}
  for rel in pairs(self.sched.running) do cancelled[#cancelled + 1] = rel end
  table.sort(cancelled)
  if #cancelled > 0 then
    log.warn("loads_cancelled", { count = #cancelled, files = table.concat(cancelled, ","),
      action = "none: they are loaded again at the next start" })
  end
  for rel in pairs(owed) do self.state:set_pending(rel, true) end
  if self.watcher then pcall(self.watcher.close, self.watcher); self.watcher = nil end
  self:save_now()
end

function Engine:once_result()
  local failed = {}
  for rel, f in pairs(self.state:failures()) do failed[#failed + 1] = { rel = rel, f = f } end
  table.sort(failed, function(a, b) return a.rel < b.rel end)
  log.info("once_summary", { loaded = self.loaded_now, unchanged = self.unchanged_now,
    failed = #failed, dry_run = self.dry_run or nil })
  if #failed == 0 then return EXIT_OK end
  io.stderr:write(string.format("kbsyncd: %d file(s) not in sync:\n", #failed))
  for _, x in ipairs(failed) do
    io.stderr:write(string.format("  %s: %s: %s\n", x.rel, x.f.event or x.f.kind, x.f.error or ""))
  end
  return EXIT_FAILED
end

function Engine:run()
  self.started_at = self:now_iso()
  self.pid = own_pid()
  log.info("starting", { mode = self.once and "once" or "run", dir = self.cfg.watch_dir,
    dry_run = self.dry_run or nil, max_parallel = self.cfg.max_parallel,
    settle_ms = self.cfg.settle_ms })
  local st = fs.stat(self.cfg.watch_dir)
  if not st or st.type ~= "dir" then
    log.error("watch_dir_missing", { dir = self.cfg.watch_dir,
      action = "create the folder or fix watch_dir in the config" })
    return 2
  end
  self:setup()
  -- The watcher starts before the scan, so nothing that happens during
  -- reconcile is lost (it is at worst seen twice).
  if not self.once then
    local ok, err = self:open_watcher()
    if not ok then
      log.error("watch_failed", { dir = self.cfg.watch_dir, error = err,
        action = "check that the folder exists and is readable" })
      return 2
    end
  end
  local fetched, err, code = self:start_remote()
  if not fetched then
    if self.stop_mode then self:drain(); return self.stop_mode == "reload" and "reload" or EXIT_OK end
    if self.watcher then self.watcher:close() end
    return code or EXIT_FAILED
  end
  self.remote = fetched.remote
  self.remote_table_count = fetched.table_count
  log.info("connected", { project = fetched.token.project_name or fetched.token.owner_name,
    buckets = fetched.bucket_count, tables = fetched.table_count,
    provider = fetched.token.file_storage_provider or fetched.token.provider })
  fetched = nil
  collect_burst()
  self:reconcile_local()
  self:loop()
  if self.once and not self.stop_mode then
    self:drain()
    if self.auth_paused then return EXIT_AUTH end
    return self:once_result()
  end
  local owed_before = next(self.sched:owed()) ~= nil or self.settle:count() > 0
  self:drain()
  log.info("stopped", { reason = self.stop_mode })
  -- An interrupted `once` did not bring everything in sync.
  if self.once and self.stop_mode == "stop" and owed_before then return EXIT_FAILED end
  if self.stop_mode == "reload" then return "reload" end
  return EXIT_OK
end

-- From a signal handler: must not yield.
function Engine:stop(mode)
  if self.stop_mode then return end
  self.stop_mode = mode or "stop"
  if self.sched then self.sched:close() end
  if self.watcher then pcall(self.watcher.close, self.watcher) end
end

return M
