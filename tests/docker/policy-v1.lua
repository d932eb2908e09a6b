-- policy.lua as the docker test starts: no overrides, default naming.
return {}
