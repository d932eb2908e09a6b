-- daemon_exit.lua - the exit codes, in one place (docs/operations.md lists
-- them; the C host adds 70 for scripts that fail to load and 128+signal
-- for a forced exit).
--   ok           everything asked was done (`once`: every table equals its file)
--   failed       some file is not in sync (its failure is on stderr and in status)
--   usage        bad command line or config
--   auth         the token was refused (or lacks a permission `check` needs)
--   unreachable  Keboola or the file storage could not be reached in time
--   locked       another kbsyncd holds the state_dir
return { ok = 0, failed = 1, usage = 2, auth = 3, unreachable = 4, locked = 5, internal = 70 }
