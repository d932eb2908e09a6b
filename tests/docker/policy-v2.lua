-- policy.lua after the docker test rewrites it and sends HUP: every table
-- gets the prefix "hup_", so a file loaded after the reload proves that the
-- new script is in force.  `file` is {path, rel, folder, name}.
return {
  table = function(file)
    return "hup_" .. file.name:gsub("%.[cC][sS][vV]$", "")
  end,
}
