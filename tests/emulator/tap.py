"""A tiny TAP producer for the emulator's tests: `ok N - desc` / `not ok N - desc`, then 1..N."""
import json
import sys
import traceback


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, condition, description, diagnostic=None):
        self.count += 1
        if condition:
            print(f"ok {self.count} - {description}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.count} - {description}", flush=True)
            if diagnostic is not None:
                self.diag(diagnostic)
        return bool(condition)

    def eq(self, got, expected, description):
        return self.ok(got == expected, description,
                       f"expected: {_show(expected)}\n     got: {_show(got)}")

    def diag(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def run(self, tests):
        """Run (name, function) pairs; an exception fails that test and the rest still run."""
        for name, function in tests:
            try:
                function(self)
            except Exception:
                self.ok(False, f"{name} raised", traceback.format_exc())

    def finish(self):
        print(f"1..{self.count}", flush=True)
        if self.failed:
            print(f"# {self.failed} of {self.count} failed", flush=True)
        sys.exit(1 if self.failed or not self.count else 0)


def _show(value):
    try:
        return json.dumps(value, ensure_ascii=False)[:2000]
    except (TypeError, ValueError):
        return repr(value)[:2000]


def tests_in(module_globals):
    """The module's test_* functions in definition order."""
    return [(name[5:].replace("_", " "), fn) for name, fn in module_globals.items()
            if name.startswith("test_") and callable(fn)]
