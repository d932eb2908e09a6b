-- test_keboola_gcp.lua - the Keboola client against the gcp rig (see
-- helpers/keboola_cases.lua for what is tested).
require("helpers.keboola_cases").run("gcp")
