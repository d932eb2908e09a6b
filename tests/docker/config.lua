-- Config for tests/docker/run: the container paths of the image, a short
-- settle time so the test is quick, and policy hooks from a separate mounted
-- script that the test rewrites before sending HUP.
return {
  watch_dir = "/data",
  state_dir = "/var/lib/kbsyncd",
  settle_ms = 300,
  jobs = { poll_initial_ms = 200, poll_cap_ms = 1000 },  -- the emulator's jobs are quick
  log = { file = "/var/log/kbsyncd/kbsyncd.log", level = "debug", stderr = true },
  policy = dofile("/etc/kbsyncd/policy.lua"),
}
