-- daemon_exit.lua - the exit codes, in one place (docs/operations.md).
return { ok = 0, failed = 1, usage = 2, auth = 3, unreachable = 4, unavailable = 64, internal = 70 }
