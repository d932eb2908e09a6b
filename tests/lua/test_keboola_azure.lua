-- test_keboola_azure.lua - the Keboola client against the azure rig (see
-- helpers/keboola_cases.lua for what is tested).
require("helpers.keboola_cases").run("azure")
