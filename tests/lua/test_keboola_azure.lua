-- test_keboola_azure.lua - the Keboola client against the azure rig (see
-- test_keboola_cases.lua for what is tested).
require("test_keboola_cases").run("azure")
