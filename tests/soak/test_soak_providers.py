"""The soak's churn, faults and SIGKILLs, briefly, on the aws and azure rigs
(the short run uses gcp): 25 s of churn over 20 files in 4 folders per
provider, then the same oracle as soak.py.  Uploads to S3 (moto with SigV4
checks behind the S3 gate) and Azure Blob (Azurite with SAS checks) go
through the same faults and kills as the GCS path.

KBSYNCD_SOAK_PROVIDERS="aws azure" (the default) picks the providers;
SEED=N replays."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
failed = 0
n = 0
for provider in os.environ.get("KBSYNCD_SOAK_PROVIDERS", "aws azure").split():
    argv = [sys.executable, os.path.join(HERE, "soak.py"), "--provider", provider,
            "--duration", os.environ.get("DURATION", "25"), "--files", "20", "--folders", "4",
            "--converge", "90"]
    r = subprocess.run(argv, capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            n += 1
            status, _, rest = line.partition(" - ")
            word = "not ok" if status.startswith("not ok") else "ok"
            print(f"{word} {n} - {provider}: {rest}", flush=True)
            failed += word == "not ok"
        elif line.startswith("#"):
            print(line, flush=True)
    if r.returncode != 0 and "not ok" not in r.stdout:
        n += 1
        failed += 1
        print(f"not ok {n} - {provider}: soak.py exited {r.returncode}", flush=True)
        print("\n".join("# " + x for x in r.stderr.splitlines()[-20:]), flush=True)
print(f"1..{n}", flush=True)
sys.exit(1 if failed or not n else 0)
