-- defaults.lua - every setting of the daemon, its type and its default.
--
-- config.lua (the user's) returns a table that overrides any of these; a key
-- that is not listed here is an error (lsyncd's checkgauge idea), so a typo
-- never silently falls back to a default.  docs/configuration.md documents
-- each key; tests/docs check that both stay in step with this file.
--
-- Schema entries: { type = "string"|"integer"|"number"|"boolean"|"function"
-- |"table", default = ..., enum = {...}, min = n, optional = true }.
-- A nested section is { section = { ...entries... } }.

local MB = 1024 * 1024

return {
  watch_dir        = { type = "string", optional = true,
                       doc = "folder to mirror; each sub-folder is a bucket" },
  stage            = { type = "string", default = "in", enum = { "in", "out" },
                       doc = "bucket stage" },
  settle_ms        = { type = "integer", default = 2000, min = 0,
                       doc = "quiet time after the last event before a file is loaded" },
  gzip_threshold   = { type = "integer", default = 50 * MB, min = 0,
                       doc = "files larger than this (bytes) are gzipped before upload" },
  gzip_level       = { type = "integer", default = 6, min = 1, max = 9,
                       doc = "zlib level for gzipped uploads" },
  max_parallel     = { type = "integer", default = 4, min = 1,
                       doc = "tables loaded at the same time" },
  state_dir        = { type = "string", default = "state",
                       doc = "state.json, status.json and spool/ (relative to the config file)" },
  watcher          = { type = "string", default = "auto", enum = { "auto", "inotify", "poll" },
                       doc = "change notification backend" },
  poll_interval_ms = { type = "integer", default = 2000, min = 100,
                       doc = "how often the poll watcher looks" },
  rescan_interval_s = { type = "integer", default = 3600, min = 0,
                       doc = "a full rescan this often catches changes the watcher missed; 0 = off" },
  shutdown_grace_s = { type = "integer", default = 30, min = 0,
                       doc = "on TERM, how long running loads may finish" },
  auth_recheck_s   = { type = "integer", default = 60, min = 1,
                       doc = "while the token is refused, how often it is checked again" },
  once_timeout_s   = { type = "integer", default = 120, min = 1,
                       doc = "`once`: how long Keboola or the file storage may stay unreachable before it gives up" },
  sniff_bytes      = { type = "integer", default = 1 * MB, min = 4096,
                       doc = "sample size for dialect detection" },
  -- 1 MiB of gzip at level 6 is about 40 ms of CPU: the longest the loop
  -- (other loads, an upload overlapping this staging) waits for a step.
  stage_step_bytes = { type = "integer", default = 1 * MB, min = 65536,
                       doc = "bytes staged between two yields to the loop" },
  log = { section = {
    file      = { type = "string", default = "kbsyncd.log",
                  doc = "log file (relative to the config file); \"\" for none" },
    level     = { type = "string", default = "info",
                  enum = { "error", "warn", "info", "debug", "trace" } },
    format    = { type = "string", default = "text", enum = { "text", "json" } },
    max_bytes = { type = "integer", default = 100 * MB, min = 4096,
                  doc = "rotate the file when it would grow past this" },
    keep      = { type = "integer", default = 5, min = 0, doc = "rotated files kept" },
    stderr    = { type = "boolean", default = false, doc = "copy every line to stderr" },
  } },
  keboola = { section = {
    host         = { type = "string", optional = true,
                     doc = "stack host or URL; normally from KBC_STORAGE_API_HOST" },
    token        = { type = "string", optional = true,
                     doc = "Storage API token; keep it in .env (KBC_STORAGE_API_TOKEN)" },
    s3_endpoint  = { type = "string", optional = true,
                     doc = "path-style S3 endpoint (emulators, proxies)" },
    gcs_endpoint = { type = "string", optional = true,
                     doc = "GCS endpoint (emulators, proxies)" },
    tags         = { type = "table", default = { "kbsyncd" }, doc = "tags on uploaded files" },
    branch       = { type = "string", optional = true,
                     doc = "development branch (its name or id) every Storage call goes to; unset = production" },
  } },
  http = { section = {
    connect_timeout_ms = { type = "integer", default = 10000, min = 1 },
    timeout_ms         = { type = "integer", default = 120000, min = 1,
                           doc = "whole request (API calls); uploads use low_speed_time_s" },
    upload_timeout_ms  = { type = "integer", default = 0, min = 0,
                           doc = "whole upload request; 0 = no limit (stalls are caught by low_speed_time_s)" },
    low_speed_time_s   = { type = "integer", default = 120, min = 1,
                           doc = "abort a transfer slower than 1 byte/s for this long" },
    ca_bundle          = { type = "string", optional = true,
                           doc = "CA certificates file; TLS is always verified" },
    max_body           = { type = "integer", default = 16 * MB, min = 1024,
                           doc = "largest API response kept in memory" },
  } },
  retry = { section = {
    base_ms      = { type = "integer", default = 1000, min = 1 },
    cap_ms       = { type = "integer", default = 300000, min = 1 },
    max_retry_after_s = { type = "integer", default = 900, min = 0,
                     doc = "longest wait a server's Retry-After may ask for" },
    max_attempts = { type = "integer", optional = true, min = 1,
                     doc = "nil = retry forever (the daemon); CLI commands use a few" },
  } },
  jobs = { section = {
    poll_initial_ms = { type = "integer", default = 1000, min = 1 },
    poll_cap_ms     = { type = "integer", default = 15000, min = 1 },
    deadline_s      = { type = "integer", default = 3600, min = 1 },
  } },
  upload = { section = {
    -- One PUT rides one connection: above one part's size, parts in
    -- parallel are faster on links capped per connection (docs/benchmarks.md).
    s3_single_max  = { type = "integer", default = 16 * MB, min = 1 },
    s3_part_size   = { type = "integer", default = 16 * MB, min = 5 * MB },
    abs_single_max = { type = "integer", default = 64 * MB, min = 1 },
    abs_block_size = { type = "integer", default = 8 * MB, min = 1 },
    gcs_single_max = { type = "integer", default = 16 * MB, min = 1 },
    gcs_chunk_size = { type = "integer", default = 8 * MB, min = 256 * 1024 },
    parallel       = { type = "integer", default = 8, min = 1,
                       doc = "S3 parts / Azure blocks of one file in flight at once; 1 = one after another" },
    overlap        = { type = "boolean", default = true,
                       doc = "a gzipped file's S3 parts / Azure blocks go up while it is still compressed" },
  } },
  policy = { section = {
    bucket           = { type = "function", optional = true },
    table            = { type = "function", optional = true },
    ignore           = { type = "function", optional = true },
    columns          = { type = "function", optional = true },
    on_header_change = { type = "function", optional = true },
    should_load      = { type = "function", optional = true },
    -- Repairs of files Keboola would refuse, all off by default
    -- (docs/staging.md, "Repairs").
    repair = { section = {
      names      = { type = "boolean", default = false,
                     doc = "empty names become column_N, duplicates name_2, names over 64 characters are cut with a hash" },
      short_rows = { type = "string", default = "refuse", enum = { "refuse", "pad" },
                     doc = "rows with fewer fields than the header: refused, or padded with empty values" },
      long_rows  = { type = "string", default = "refuse", enum = { "refuse", "last_column" },
                     doc = "rows with more fields: refused, or the extra fields joined into the last column" },
      preamble   = { type = "boolean", default = false,
                     doc = "skip up to 10 lines above the header (title lines, notes)" },
      no_header  = { type = "boolean", default = false,
                     doc = "the first line is data; columns are named column_1..N" },
    } },
  } },
}
