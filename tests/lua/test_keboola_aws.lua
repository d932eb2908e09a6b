-- test_keboola_aws.lua - the Keboola client against the aws rig (see
-- helpers/keboola_cases.lua for what is tested).
require("helpers.keboola_cases").run("aws")
