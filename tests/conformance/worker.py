"""Run one test_asyncio module on aioxide and write each test's outcome as JSON.

    python tests/conformance/worker.py test_tasks OUT.json
    python tests/conformance/worker.py test_events:HandleTests,TimerTests OUT.json
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
import unittest

import harness

# A test that runs longer fails with TestTimedOut, and the module goes on: some hang on
# a loop that differs from the stdlib's (a callback that never comes).
PER_TEST_TIMEOUT = float(os.environ.get("CONFORMANCE_TEST_TIMEOUT", "30"))
TRACE = bool(os.environ.get("CONFORMANCE_TRACE"))  # each test's start, on stderr


class TestTimedOut(BaseException):
    """Raised in the main thread when a test runs past ``PER_TEST_TIMEOUT``."""


def _timed_out(signum, frame):
    raise TestTimedOut(f"the test ran longer than {PER_TEST_TIMEOUT:.0f} s")


class RecordingResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.records: dict[str, dict] = {}
        self._before = (0, 0)
        self._timer: threading.Timer | None = None
        # A real signal, not interrupt_main(): it must wake a loop blocked in epoll_wait.
        signal.signal(signal.SIGUSR2, _timed_out)

    def startTest(self, test):
        super().startTest(test)
        if TRACE:
            print(f"{time.monotonic():.1f} {test.id()}", file=sys.stderr, flush=True)
        self._before = harness.snapshot()
        main = threading.main_thread().ident
        self._timer = threading.Timer(PER_TEST_TIMEOUT, signal.pthread_kill,
                                      (main, signal.SIGUSR2))
        self._timer.daemon = True
        self._timer.start()

    def stopTest(self, test):
        if self._timer is not None:
            self._timer.cancel()
        super().stopTest(test)

    def _record(self, test, outcome, detail=""):
        test_id = test.id().removeprefix("test.test_asyncio.")
        loop = harness.classify(self._before, harness.snapshot())
        previous = self.records.get(test_id)
        if previous and previous["outcome"] in ("fail", "error"):
            return  # a failing subtest or cleanup keeps the test failed
        self.records[test_id] = {"outcome": outcome, "loop": loop, "detail": detail[-1500:]}

    def addSuccess(self, test):
        self._record(test, "pass")

    def addFailure(self, test, err):
        self._record(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        # Errors of setUpModule / setUpClass arrive with a placeholder "test".
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self._record(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        self._record(test, "pass")

    def addUnexpectedSuccess(self, test):
        self._record(test, "fail", "unexpected success of a test marked expectedFailure")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._record(test, kind, self._exc_info_to_string(err, test))


def main() -> int:
    spec, out = sys.argv[1], sys.argv[2]
    # "module" runs the whole module; "module:ClassA,ClassB" only those classes.
    name, _, classes = spec.partition(":")
    harness.install()
    result = RecordingResult()
    try:
        module = importlib.import_module(f"test.test_asyncio.{name}")
        dropped = harness.adapt_module(module)
        loader = unittest.defaultTestLoader
        if classes:
            suite = loader.loadTestsFromNames(classes.split(","), module)
        else:
            suite = loader.loadTestsFromModule(module)
        suite.run(result)
    except unittest.SkipTest as skip:  # a platform's module (test_windows_*) skips itself
        result.records[f"{name}.<module>"] = {
            "outcome": "skip",
            "loop": "none",
            "detail": str(skip),
        }
        dropped = []
    except BaseException:
        result.records[f"{name}.<module>"] = {
            "outcome": "error",
            "loop": "none",
            "detail": traceback.format_exc()[-1500:],
        }
        dropped = []
    with open(out, "w") as f:
        json.dump({"records": result.records, "dropped_classes": dropped}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
