"""Shared by the staging tests: paths and a TAP counter."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "csv")
TOOL = os.path.join(os.environ.get("KBSYNCD_BUILD", os.path.join(ROOT, "build")),
                    "tests", "tool_stage")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def __call__(self, cond, what):
        self.n += 1
        if not cond:
            self.failed += 1
        print(f"{'' if cond else 'not '}ok {self.n} - {what}", flush=True)
        return cond
