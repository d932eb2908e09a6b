-- sync/report.lua - what `once` and dry runs tell the person at the
-- terminal, whatever the log does (it may go to a file): what was (or
-- would be) loaded, what was unchanged, what failed and why.
--
-- Successes go to stdout, failures and fatal problems to stderr, one line
-- per file, so `kbsyncd once 2>errors.txt` from cron keeps the failures.
-- In `run` only a dry run reports (each would-be load as it is decided);
-- a daemon's terminal stays quiet.  Kept per file only in `once`, which
-- ends; `run --dry-run` prints as it goes and keeps nothing.
local M = {}

local Report = {}
Report.__index = Report

function M.new(opts)
  return setmetatable({ once = opts.once, dry_run = opts.dry_run, files = {},
                        out = opts.out or io.stdout, err = opts.err or io.stderr }, Report)
end

local function active(self) return self.once or self.dry_run end

-- The last word on rel: "loaded" | "unchanged" | "would_load" | "failed"
-- | "owed", with details ({table, rows, bytes, event, error, action}).
function Report:note(rel, what, info)
  if not self.once then return end
  if what == "owed" and self.files[rel] and self.files[rel].what ~= "owed" then return end
  self.files[rel] = { what = what, info = info or {} }
end

-- A load's result and the engine's decision about it.
function Report:outcome(rel, o, d)
  if not active(self) then return end
  if d.dry then
    self.out:write(string.format("would %s %s -> %s (%s rows, %s bytes to upload)\n",
      o.create and "create" or "load", rel, tostring(o.table_id), tostring(o.rows), tostring(o.bytes)))
    self.out:flush()
  end
  if d.count == "loaded" then
    self:note(rel, "loaded", { table = o.table_id, rows = o.rows })
  elseif d.count == "unchanged" then
    self:note(rel, "unchanged", { table = o.table_id })
  elseif d.count == "would_load" then
    self:note(rel, "would_load", { table = o.table_id })
  elseif d.record == "failure" then
    self:note(rel, "failed", d.failure)
  elseif d.settle or d.pending or d.retry_in_ms then
    self:note(rel, "owed")
  elseif o.status == "skipped" then
    self:note(rel, "skipped", { reason = o.reason })
  end
  -- A file loaded but changed meanwhile is owed until its next load
  -- (kept per file in `once` only: a dry `run` keeps nothing).
  local f = self.files[rel]
  if d.settle and d.count and f then f.what = "owed" end
end

-- A problem that ends the run before any file: always on stderr.
function Report:fatal(msg)
  self.err:write("kbsyncd: ", msg, "\n")
  self.err:flush()
end

function Report:counts()
  local c = { loaded = 0, unchanged = 0, failed = 0, owed = 0, would_load = 0, skipped = 0 }
  for _, f in pairs(self.files) do c[f.what] = (c[f.what] or 0) + 1 end
  return c
end

function Report:owed() return self:counts().owed end

-- The end of `once`: one line per file loaded or failed, then a total.
-- Failures recorded in the state from earlier runs (files unchanged
-- since) are listed too: they are still not in sync.
function Report:print_summary(state, why)
  local rels = {}
  for rel in pairs(self.files) do rels[#rels + 1] = rel end
  for rel in pairs(state:failures()) do
    if not self.files[rel] then
      rels[#rels + 1] = rel
      self.files[rel] = { what = "failed", info = state:failure(rel) }
    end
  end
  table.sort(rels)
  local c = self:counts()
  if c.failed + c.owed > 0 then
    self.err:write(string.format("kbsyncd: %d file(s) not in sync:\n", c.failed + c.owed))
  end
  for _, rel in ipairs(rels) do
    local f = self.files[rel]
    local i = f.info or {}
    if f.what == "loaded" then
      self.out:write(string.format("loaded    %s -> %s (%s rows)\n", rel, tostring(i.table), tostring(i.rows)))
    elseif f.what == "failed" then
      self.err:write(string.format("failed    %s: %s [%s]: %s\n    what to do: %s\n", rel,
        tostring(i.event or "load_failed"), tostring(i.class or "file"), tostring(i.error or ""),
        tostring(i.action or "see the log")))
    elseif f.what == "owed" then
      self.err:write(string.format("not done  %s: %s\n", rel,
        why.unreachable and "Keboola could not be reached" or
        why.auth and "the token was refused" or "interrupted or changed while loading"))
    end
  end
  local line = string.format("kbsyncd once: %d loaded, %d unchanged, %d failed, %d not done%s\n",
    c.loaded, c.unchanged, c.failed, c.owed,
    self.dry_run and string.format(", %d would be loaded (dry run)", c.would_load) or "")
  self.out:write(line)
  if why.unreachable then
    self.err:write("kbsyncd: gave up: Keboola or the file storage could not be reached: ",
      why.unreachable, "\n")
  elseif why.auth then
    self.err:write("kbsyncd: the Storage API token was refused: set a valid KBC_STORAGE_API_TOKEN\n")
  end
  self.out:flush()
  self.err:flush()
end

return M
