-- policy.lua after the docker test rewrites it and sends HUP: every table
-- gets the prefix "hup_", so a file loaded after the reload proves that the
-- new script is in force.
return {
  table = function(file)
    local path = type(file) == "table" and (file.path or file.name) or file
    return "hup_" .. path:match("([^/]+)%.[cC][sS][vV]$")
  end,
}
