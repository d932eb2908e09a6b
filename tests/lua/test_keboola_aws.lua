-- test_keboola_aws.lua - the Keboola client against the aws rig (see
-- test_keboola_cases.lua for what is tested).
require("test_keboola_cases").run("aws")
