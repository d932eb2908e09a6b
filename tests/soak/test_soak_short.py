"""The soak's short run for `make test` (about 2 minutes): 75 s of churn
with faults at rate 0.2 and random SIGKILLs, then convergence and the
oracle.  SEED=N replays a run; tests/soak/run runs longer ones."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak  # noqa: E402

if __name__ == "__main__":
    sys.exit(soak.main(["--duration", os.environ.get("DURATION", "75")]))
