-- test_keboola_gcp.lua - the Keboola client against the gcp rig (see
-- test_keboola_cases.lua for what is tested).
require("test_keboola_cases").run("gcp")
