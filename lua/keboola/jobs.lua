-- keboola/jobs.lua - waiting for Storage jobs (tables-async, import-async).
--
-- A job answers 202 with status "waiting"; we poll GET /v2/storage/jobs/{id}
-- after poll_initial_ms, doubling up to poll_cap_ms, until "success" or
-- "error", or until deadline_s has passed since the wait began. Each GET
-- goes through the retry policy, so a Storage hiccup during a long import
-- does not lose the job. A failed job still answers HTTP 200: failure is
-- only in status/error, and becomes a "permanent" error object here.
local errors = require "keboola.errors"
local url = require "keboola.url"

local M = {}


local function list_text(v)
    if type(v) ~= "table" then return tostring(v or "?") end
    return table.concat(v, ",")
end

-- Where the job worked, for messages: "table in.c-sales.orders" or the
-- operation name.
local function job_subject(job)
    if job.tableId then return "table " .. job.tableId end
    return job.operationName or "job"
end

-- The error object for a job that ended in "error". For a header mismatch
-- the message says which columns are missing and which were expected (the
-- server's own text also talks about delimiters, which rarely helps).
function M.job_error(job)
    local e = type(job.error) == "table" and job.error or {}
    local results = type(job.results) == "table" and job.results or {}
    local code = e.code and tostring(e.code) or "job.failed"
    local message = e.message or ("job " .. tostring(job.id) .. " failed")
    local fields = {
        kind = "permanent", code = code, exception_id = e.exceptionId,
        op = "job " .. tostring(job.id) .. " " .. (job.operationName or ""),
    }
    if code == "csvImport.columnsNotMatch" and type(results.missingColumns) == "table" then
        fields.missing_columns = results.missingColumns
        fields.expected_columns = results.expectedColumns
        message = string.format(
            "the CSV header does not match %s: missing columns %s; expected columns %s",
            job_subject(job), list_text(results.missingColumns),
            list_text(results.expectedColumns))
    end
    fields.message = message
    fields.op = fields.op:gsub("%s+$", "")
    return errors.new(fields)
end

-- wait(api, job, cfg, deps) yields until the job ends.
-- cfg: {poll_initial_ms, poll_cap_ms, deadline_s}; deps: {sleep, now, log}.
-- Returns the finished job (status "success"), or nil, err:
--   permanent  the job failed (err.code from the job, see job_error)
--   retryable  code "job.deadline": still unfinished at the deadline; the
--              job may still complete on the server
--   any error of the GET after the retry policy gave up.
function M.wait(api, job, cfg, deps)
    local initial = assert(cfg.poll_initial_ms, "jobs.wait needs poll_initial_ms")
    local cap = assert(cfg.poll_cap_ms, "jobs.wait needs poll_cap_ms")
    local deadline_ms = assert(cfg.deadline_s, "jobs.wait needs deadline_s") * 1000
    local started = deps.now()
    local delay = initial
    local path = "/v2/storage/jobs/" .. url.encode(job.id)
    while job.status ~= "success" and job.status ~= "error" do
        local waited = deps.now() - started
        if waited >= deadline_ms then
            return nil, errors.new({
                kind = "retryable", code = "job.deadline", op = "GET " .. path,
                message = string.format("job %s (%s) still %s after %d s",
                    tostring(job.id), job_subject(job), tostring(job.status),
                    math.floor(waited / 1000)),
            })
        end
        deps.sleep(math.min(delay, deadline_ms - waited))
        delay = math.min(delay * 2, cap)
        local fresh, err = api:call("GET", path)
        if not fresh then return nil, err end
        job = fresh
    end
    local ms = deps.now() - started
    if job.status == "error" then
        local err = M.job_error(job)
        if deps.log then
            deps.log.debug("job_failed", { job = job.id, ms = ms, error = tostring(err) })
        end
        return nil, err
    end
    if deps.log then
        deps.log.info("job_finished", { job = job.id, operation = job.operationName,
            table = job.tableId, ms = ms })
    end
    return job
end

return M
