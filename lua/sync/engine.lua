-- sync/engine.lua - the daemon's life: start, reconcile, watch, settle,
-- schedule loads, stop or reload (DESIGN section 2).
--
--   local e = require("sync.engine").new(cfg, {once = bool, dry_run = bool})
--   local rc = e:run()        -- in the main task; an exit code or "reload"
--   e:stop("stop"|"reload")   -- from a signal handler; never yields
--
-- The flow of one edit (docs/architecture.md draws it):
--   watcher event -> folders (rescan: what changed) -> settle (quiet, two
--   looks) -> offer (folders:target) -> scheduler (one task per file) ->
--   load.run(load context, rel, target) -> result -> outcome.decide ->
--   Engine:apply (the only writer of state) -> state/status files.
-- Pieces: sync/reconcile (what to load at start), sync/settle, sync/
-- scheduler, sync/load, sync/outcome (result -> decision), sync/failure
-- (classes), sync/state and sync/status (files in state_dir), sync/
-- folders (the local view), sync/report (what `once` and dry runs print).
-- docs/engine.md lists every log event and what to do about it.
local cjson = require "cjson"
local fs = require "host.fs"
local kv = require "host.kv"
local log = require "host.log"
local task = require "host.task"
local timer = require "host.timer"
local kbc = require "keboola"
local backoff = require "lib.backoff"
local EXIT = require "daemon_exit"
local policy_mod = require "policy"
local fswatch = require "sync.fswatch"
local folders_mod = require "sync.folders"
local load = require "sync.load"
local outcome = require "sync.outcome"
local reconcile = require "sync.reconcile"
local remote_mod = require "sync.remote"
local report_mod = require "sync.report"
local repair = require "sync.repair"
local scheduler_mod = require "sync.scheduler"
local settle_mod = require "sync.settle"
local state_mod = require "sync.state"
local status_mod = require "sync.status"
local dry = require "sync.dry"

local M = {}

M.LOCK_FILE = "kbsyncd.lock"

-- After a start-up step that made much garbage (decoding the state file,
-- the table list, the first scan): collect it now, so the next step reuses
-- that memory instead of growing the heap around it.
local function collect_burst() collectgarbage("collect") end

local Engine = {}
Engine.__index = Engine

function M.new(cfg, opts)
  opts = opts or {}
  local once = opts.once == true
  local dry_run = opts.dry_run == true or cfg.dry_run == true
  local e = setmetatable({
    cfg = cfg, once = once, dry_run = dry_run,
    spool_dir = fs.join(cfg.state_dir, "spool"),
    remote = remote_mod.new(), webalize_cache = {},
    buckets = kv.new(), bucket_wait = {}, attempts = {},
    stopped = task.event(),   -- notified once, by stop()
    -- "something changed": watcher events, finished loads, retries due,
    -- stop.  The main loop, the drain and `once` wait on it.
    wake = task.event(),
    report = report_mod.new { once = once, dry_run = dry_run },
  }, Engine)
  e.policy = policy_mod.new(cfg)
  e.rules = repair.rules(cfg)
  return e
end

---------------------------------------------------------------- helpers

function Engine:now_iso() return timer.iso(timer.wall()) end

-- Waits ms, or less when the daemon stops; true when it was cut short.
-- Every pause of the engine and of the client's back-off goes through it,
-- so TERM never waits for a back-off to run out.
-- (Other wake-ups of the event, as await() makes, only shorten one wait.)
function Engine:pause(ms)
  local until_ms = timer.now() + ms
  while not self.stop_mode do
    local left = until_ms - timer.now()
    if left <= 0 then return false end
    self.stopped:wait(left)
  end
  return true
end

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

-- Runs fn in its own task and waits for it or for stop(): the host cannot
-- cancel an HTTP call from a signal, but the waiter need not stay.
function Engine:await(fn)
  local box, done = {}, task.event()
  task.spawn(function()
    box.r = table.pack(fn())
    done:notify()
    self.stopped:notify()
  end)
  while not box.r do
    if self.stop_mode then return nil, "stopping" end
    self.stopped:wait()
  end
  return table.unpack(box.r, 1, box.r.n)
end

---------------------------------------------------------------- buckets

-- The bucket of a folder: from the remote list, else created (in a
-- dry run: logged).  Two tasks asking at once share one call.
function Engine:bucket(folder)
  while self.bucket_wait[folder] do self.bucket_wait[folder]:wait() end
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
  local ev = task.event()
  self.bucket_wait[folder] = ev
  local b, err = self.client:ensure_bucket(name, { buckets = list, stage = stage })
  self.bucket_wait[folder] = nil
  ev:notify()
  if not b then return nil, err end
  self.buckets:set(folder, cjson.encode(self.remote:put_bucket(b)))
  log.info("bucket_ready", { folder = folder, bucket = b.id })
  return b
end

-- New folders get their bucket at once, not at their first file.  A
-- failure here is only logged: each file of the folder records its own
-- (classified) failure when its load asks for the bucket.
function Engine:ensure_bucket_soon(folder)
  if self.dry_run or self.buckets:get(folder) or self.folders:blocked_folder(folder) then return end
  if not self.folders:bucket_name(folder) then return end
  task.spawn(function()
    local b, err = self:bucket(folder)
    if not b and not self.stop_mode and not (type(err) == "table" and err.code == "cancelled") then
      log.error("bucket_failed", { folder = folder, error = tostring(err),
        kind = type(err) == "table" and err.kind or nil,
        action = "check the token's permission to create buckets; the folder's files retry it" })
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
  self.state:set_failure(rel, { class = "file", event = event, error = reason, blocked = true,
    action = "see the " .. event .. " ERROR line in the log", at = self:now_iso(), stat = key })
  self.state:set_pending(rel, nil)
  self.report:note(rel, "failed", { event = event, error = reason })
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

-- Into the dirty set, with what the scan saw.  A file whose last change
-- is older than settle_ms is quiet already: its second look is due now.
function Engine:touch(rel, st)
  local key = state_mod.stat_key(st)
  local mtime_ns = tonumber(key:match("^%d+:(%d+):"))
  local quiet_ms = mtime_ns and (timer.wall() * 1000 - mtime_ns / 1e6) or 0
  self.settle:touch(rel, st, quiet_ms)
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
      local need = reconcile.needs_load(self.state, nil, rel, st, self.rules)
      if need then self.settle:touch(rel, st) end
    end
  end
end

---------------------------------------------------------------- outcomes

-- The one place a load's result changes the engine: decide, then apply.
function Engine:on_done(rel, o)
  local d = outcome.decide(rel, o, {
    once = self.once, attempt = (self.attempts[rel] or 0) + 1,
    retry = self.cfg.retry, auth_recheck_s = self.cfg.auth_recheck_s,
    previous = self.state:failure(rel), now_iso = self:now_iso(), rules = self.rules,
  })
  self:apply(rel, o, d)
end

function Engine:apply(rel, o, d)
  local state = self.state
  if d.record == "success" then
    state:set_file(rel, d.entry)
    state:set_failure(rel, nil)
  elseif d.record == "stat" then
    local entry = state:file(rel)
    if entry and entry.stat ~= o.stat then entry.stat = o.stat; state:set_file(rel, entry) end
    state:set_failure(rel, nil)
  elseif d.record == "failure" then
    if d.failure.next_try_in_ms then
      d.failure.next_try_at = timer.iso(timer.wall() + d.failure.next_try_in_ms / 1000)
    end
    d.failure.next_try_in_ms = nil
    state:set_failure(rel, d.failure)
  end
  if d.pending ~= nil then state:set_pending(rel, d.pending or nil) end
  if d.retry_in_ms then
    self.attempts[rel] = (self.attempts[rel] or 0) + 1
    self.sched:later(rel, d.retry_in_ms)
  elseif d.record then
    self.attempts[rel] = nil
  end
  if d.log then log[d.log.level](d.log.event, d.log.fields) end
  if d.pause_auth then
    self:pause_for_auth(d.pause_auth)
    if not self.once then self.sched:submit(rel, true) end
  end
  if d.unreachable and not self.unreachable then
    self.unreachable = o.error
    self.sched:close()
  end
  if d.settle then
    local st = self.folders:stat(rel)
    if st then self.settle:touch(rel, st) else state:set_pending(rel, nil) end
  end
  self.report:outcome(rel, o, d)
  if d.save == "after_load" then self:save_after_load() elseif d.save == "soon" then self:save_soon() end
  self.wake:notify()
end

---------------------------------------------------------------- auth

function Engine:auth_paused_loop()
  if self.auth_task then return end
  self.auth_task = true
  task.spawn(function()
    while self.auth_paused and not self.stop_mode do
      if self:pause(self.cfg.auth_recheck_s * 1000) then break end
      local ok, err = self.client:verify_token()
      if ok then
        log.info("token_accepted", { action = "none: loads resume" })
        self.auth_paused = false
        self.sched:resume()
      elseif not self.stop_mode then
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

-- One instance per state_dir: a second run/once would upload the same
-- files and overwrite state.json.  Dry runs write nothing and need none.
function Engine:take_lock()
  if self.dry_run then return true end
  local path = fs.join(self.cfg.state_dir, M.LOCK_FILE)
  local lk, err, pid = fs.lock(path)
  if lk then self.lock = lk; return true end
  if err == "locked" then
    local msg = string.format("another kbsyncd (pid %s) is using state_dir %s; stop it first, " ..
      "or give this one another state_dir", tostring(pid or "?"), self.cfg.state_dir)
    log.error("state_dir_locked", { dir = self.cfg.state_dir, pid = pid, action = msg })
    self.report:fatal(msg)
    return nil, EXIT.locked
  end
  local msg = string.format("cannot lock %s: %s", path, tostring(err))
  log.error("state_dir_unusable", { dir = self.cfg.state_dir, error = tostring(err),
    action = "make state_dir writable by this user" })
  self.report:fatal(msg)
  return nil, EXIT.failed
end

-- The remote side.  In `run` a network that is down is waited for; in
-- `once` the client gives up after once_timeout_s and so does the run.
function Engine:start_remote()
  local attempt = 0
  while true do
    local remote, err = self:await(function() return reconcile.fetch_remote(self.start_client) end)
    if remote then return remote end
    if self.stop_mode then return nil, "stopping" end
    if type(err) == "table" and err.kind == "auth" then
      log.error("token_rejected", { error = tostring(err),
        action = "set a valid KBC_STORAGE_API_TOKEN in .env (or the environment) and start again" })
      self.report:fatal("the Storage API token was rejected (" .. tostring(err) ..
        "): set a valid KBC_STORAGE_API_TOKEN")
      return nil, err, EXIT.auth
    end
    if type(err) == "table" and err.code == "branch_not_found" then
      log.error("branch_not_found", { error = tostring(err),
        action = "set keboola.branch to a branch the project has (the error lists them), or unset it" })
      self.report:fatal(tostring(err))
      return nil, err, EXIT.usage
    end
    if self.once or (type(err) == "table" and err.kind == "permanent") then
      log.error("keboola_unreachable", { error = tostring(err),
        action = "check KBC_STORAGE_API_HOST, the network and the token's permissions" })
      self.report:fatal(string.format("cannot reach Keboola at %s%s: %s",
        tostring(self.cfg.keboola.host),
        self.once and string.format(" (gave up after %d s)", self.cfg.once_timeout_s) or "",
        tostring(err)))
      return nil, err, EXIT.unreachable
    end
    attempt = attempt + 1
    local ms = backoff.delay_ms(attempt, self.cfg.retry)
    log.warn("keboola_unreachable", { error = tostring(err), retry_in_ms = ms,
      action = "none if temporary: retrying; check the network and KBC_STORAGE_API_HOST" })
    self:pause(ms)
  end
end

-- The client; `retry_over` changes the retry policy (the start-up calls
-- of `run` try a few times per round, so the engine can say
-- keboola_unreachable between rounds instead of retrying silently).
function Engine:make_client(retry_over)
  local cfg = self.cfg
  local retry = {}
  for k, v in pairs(cfg.retry) do retry[k] = v end
  -- `once` must end: a call that keeps failing gives up after this long.
  if self.once then retry.give_up_after_ms = cfg.once_timeout_s * 1000 end
  for k, v in pairs(retry_over or {}) do retry[k] = v end
  local client = kbc.new({
    host = cfg.keboola.host, token = cfg.keboola.token,
    s3_endpoint = cfg.keboola.s3_endpoint, gcs_endpoint = cfg.keboola.gcs_endpoint,
    http = cfg.http, retry = retry, jobs = cfg.jobs, upload = cfg.upload,
    tags = cfg.keboola.tags, branch = cfg.keboola.branch,
  }, { backoff_sleep = function(ms) return self:pause(ms) end })
  if self.dry_run then client = dry.wrap(client) end
  return client
end

function Engine:setup()
  local cfg = self.cfg
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
  self.client = self:make_client()
  self.start_client = self.once and self.client or self:make_client({ max_attempts = 3 })
  self.folders = folders_mod.new(cfg, self.policy)
  self.settle = settle_mod.new { settle_ms = cfg.settle_ms, now = timer.now,
    stat = function(rel) return self.folders:stat(rel) end }
  self.load_ctx = load.context {
    cfg = cfg, spool_dir = self.spool_dir, client = self.client, policy = self.policy,
    remote = nil, webalize_cache = self.webalize_cache, dry_run = self.dry_run,
    entry = function(rel) return self.state:file(rel) end,
    hint = function(rel) return self.fingerprint_hints and self.fingerprint_hints[rel] end,
    bucket = function(folder) return self:bucket(folder) end,
  }
  self.sched = scheduler_mod.new { max_parallel = cfg.max_parallel,
    changed = self.wake,
    worker = function(rel) return self:work(rel) end,
    on_done = function(rel, o) self:on_done(rel, o) end,
    on_start = function() self:save_soon() end,
    wait = function(ms) return self:pause(ms) end }
end

-- One load: its target is computed here, once, and handed to the load.
function Engine:work(rel)
  local target, why = self.folders:target(rel)
  if not target then return { status = "skipped", reason = why } end
  return load.run(self.load_ctx, rel, target)
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
    local need, why = reconcile.needs_load(self.state, self.remote, rel, files[rel], self.rules)
    if need then
      local target, tw, event = self.folders:target(rel)
      if target then
        -- Settled like any change: a file being written now is loaded
        -- once it is quiet, in `once` as in `run`.
        self:touch(rel, files[rel])
        queued = queued + 1
        reasons[why] = (reasons[why] or 0) + 1
      elseif event then
        self:note_blocked(rel, files[rel], tw, event)
      end
    else
      self.report:note(rel, why == "failed_unchanged" and "failed" or "unchanged",
        why == "failed_unchanged" and self.state:failure(rel) or nil)
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
  log.info("reconciled", { files = #rels, to_load = queued, new = reasons.new or 0,
    changed = reasons.changed or 0, pending = reasons.pending or 0,
    retry = reasons.retry_failed or 0, rules_changed = reasons.rules_changed,
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
      if self:pause(math.floor(after)) then return end
      if self.watcher then
        log.info("test_overflow_injected", { after_ms = math.floor(after) })
        self.watcher:inject_overflow()
      end
    end)
  end
  return true
end

-- `once` is done when nothing is settling, queued, running or waiting
-- for a retry; or when it cannot go on (token refused, Keboola gone).
function Engine:once_done()
  if self.auth_paused or self.unreachable then return self.sched.nrunning == 0 end
  return self.sched:idle() and self.settle:count() == 0
end

-- The watcher's task (`run`): events in, dirty files into the settle set,
-- then wake the main loop.
function Engine:watch()
  while not self.stop_mode do
    local events, err = self.watcher:wait(nil)
    if not events then
      if not self.stop_mode then
        log.error("watcher_failed", { error = err, action = "restart kbsyncd" })
        self:stop("stop")
      end
      return
    end
    self:handle_events(events)
    self.wake:notify()
  end
end

-- The safety rescan (`run`): every rescan_interval_s the whole folder is
-- listed again and compared with what is known, so a change whose event
-- never came (Docker Desktop bind mounts, network shares, an overflow the
-- kernel did not report) is still loaded.  One wake-up per interval.
function Engine:rescan_periodically()
  local every = self.cfg.rescan_interval_s
  if every == 0 then return end
  task.spawn(function()
    while not self:pause(every * 1000) do
      local changes = self.folders:rescan_all()
      log.debug("safety_rescan", { changes = #changes })
      self:on_changes(changes)
      self:touch_unloaded()
      self.wake:notify()
    end
  end)
end

-- The main loop of `run` and `once`: settled files out to the scheduler.
-- It sleeps until the next settle deadline or until something changed
-- (a watcher event, a finished load that asks for another look, stop).
-- Nothing between two waits yields, so no wake-up is missed.
function Engine:loop()
  if self.watcher then
    task.spawn(function() self:watch() end)
    self:rescan_periodically()
  end
  while not self.stop_mode do
    if self.once and self:once_done() then break end
    local deadline = self.settle:next_deadline()
    local timeout = deadline and math.max(0, deadline - timer.now()) or nil
    if timeout == nil and not self.once then self:release_when_idle() end
    self.wake:wait(timeout)
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
    while not self.stop_mode
        and not (self.sched:idle() and self.settle:count() == 0 and not self.save_scheduled) do
      self.wake:wait(1000)
    end
    self.release_pending = false
    if self.stop_mode then return end
    local bytes = task.release_memory()
    log.debug("memory_released", { lua_bytes = bytes, kv_bytes = kv.total_bytes() })
  end)
end

-- Let running loads finish (up to shutdown_grace_s; back-off pauses end at
-- once), then record what is still owed so the next start does it.
function Engine:drain()
  self.sched:close()
  local deadline = timer.now() + self.cfg.shutdown_grace_s * 1000
  if self.sched.nrunning > 0 then
    log.info("draining", { running = self.sched.nrunning, grace_s = self.cfg.shutdown_grace_s })
  end
  while self.sched.nrunning > 0 do
    local left = deadline - timer.now()   -- read once: a second read may be past the deadline
    if left <= 0 then break end
    self.wake:wait(left)
  end
  local owed = self.sched:owed()
  for rel in pairs(self.settle and self.settle.dirty or {}) do owed[rel] = true end
  local cancelled = {}
  for rel in pairs(self.sched.running) do cancelled[#cancelled + 1] = rel end
  table.sort(cancelled)
  if #cancelled > 0 then
    log.warn("loads_cancelled", { count = #cancelled, files = table.concat(cancelled, ","),
      action = "none: they are loaded again at the next start" })
    -- Their multipart uploads would stay behind (and be billed): abort
    -- them, briefly; the next start uploads the files again anyway.
    if not self.dry_run then self.client:abort_unfinished(5000) end
  end
  for rel in pairs(owed) do
    self.state:set_pending(rel, true)
    self.report:note(rel, "owed")
  end
  if self.watcher then pcall(self.watcher.close, self.watcher); self.watcher = nil end
  self:save_now()
end

-- The exit code of a finished `once`, with its summary on the terminal.
function Engine:once_result()
  local rc = EXIT.ok
  if self.auth_paused then rc = EXIT.auth
  elseif self.unreachable then rc = EXIT.unreachable
  elseif next(self.state:failures()) ~= nil or self.report:owed() > 0 then rc = EXIT.failed end
  local counts = self.report:counts()
  log.info("once_summary", { loaded = counts.loaded, unchanged = counts.unchanged,
    failed = counts.failed, owed = counts.owed, dry_run = self.dry_run or nil, exit = rc })
  self.report:print_summary(self.state, {
    unreachable = self.unreachable and tostring(self.unreachable) or nil,
    auth = self.auth_paused,
  })
  return rc
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
    self.report:fatal("watch_dir " .. self.cfg.watch_dir .. " does not exist: create it or fix watch_dir")
    return EXIT.usage
  end
  local ok, mk_err = fs.mkdir_p(self.cfg.state_dir)
  if not ok and not fs.stat(self.cfg.state_dir) then
    self.report:fatal("cannot create state_dir " .. self.cfg.state_dir .. ": " .. tostring(mk_err))
    return EXIT.failed
  end
  local locked, code = self:take_lock()
  if not locked then return code end
  local rc = self:run_locked()
  if self.lock then self.lock:unlock(); self.lock = nil end
  return rc
end

function Engine:run_locked()
  self:setup()
  -- The watcher starts before the scan, so nothing that happens during
  -- reconcile is lost (it is at worst seen twice).
  if not self.once then
    local ok, err = self:open_watcher()
    if not ok then
      log.error("watch_failed", { dir = self.cfg.watch_dir, error = err,
        action = "check that the folder exists and is readable" })
      return EXIT.usage
    end
  end
  local fetched, err, code = self:start_remote()
  if not fetched then
    if self.stop_mode then
      self:drain()
      log.info("stopped", { reason = self.stop_mode })
      if self.stop_mode == "reload" then return "reload" end
      return self.once and EXIT.failed or EXIT.ok
    end
    if self.watcher then self.watcher:close() end
    return code or EXIT.failed
  end
  self.start_client = nil
  self.remote = fetched.remote
  self.load_ctx.remote = fetched.remote
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
    return self:once_result()
  end
  self:drain()
  log.info("stopped", { reason = self.stop_mode })
  -- An interrupted `once` did not bring everything in sync, unless
  -- nothing was owed.
  if self.once then return self:once_result() end
  if self.stop_mode == "reload" then return "reload" end
  return EXIT.ok
end

-- From a signal handler: must not yield.  A stop ("stop": TERM or INT)
-- overrides a reload under way, so a TERM during a reload's drain ends the
-- daemon instead of being forgotten with the old state.
function Engine:stop(mode)
  mode = mode or "stop"
  if self.stop_mode and not (mode == "stop" and self.stop_mode == "reload") then return end
  local first = not self.stop_mode
  self.stop_mode = mode
  if not first then return end
  if self.sched then self.sched:close() end
  if self.watcher then pcall(self.watcher.close, self.watcher) end
  self.stopped:notify()
  self.wake:notify()
end

return M
