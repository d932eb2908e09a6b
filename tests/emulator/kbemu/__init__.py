"""kbemu: a Keboola Storage API emulator for kbsyncd's tests (stdlib only, boto3 for moto)."""
