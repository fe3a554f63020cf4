"""What every interop lane shares: one PASS/FAIL line per check and the closing count.

scripts/interop.sh reads each lane's last `N passed, M failed` line, so every lane prints it
through `Report.finish`, in the same words.
"""

import contextlib
import os
import shutil
import tempfile


class Report:
    """Counts checks and prints one `PASS what` or `FAIL what` line for each."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        """Counts `ok` and prints `PASS what` or `FAIL what`, then `: detail` when there is one.

        Returns `ok` as a bool, so a lane can stop after a failed step. The line is flushed at
        once, so it is ordered before the output of the next command the lane runs.
        """
        ok = bool(ok)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def finish(self):
        """Prints `N passed, M failed` and returns the lane's exit status (1 when any failed)."""
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def executable(rep, path):
    """`path` made absolute when it is an executable file; else a FAIL line on `rep` and None."""
    binary = os.path.abspath(path)
    if os.path.isfile(binary) and os.access(binary, os.X_OK):
        return binary
    rep.check(False, f"binary {path}", "not an executable file (build it first)")
    return None


@contextlib.contextmanager
def scratch_folder(prefix, keep=False):
    """A temporary folder for a lane's outputs: removed afterwards, or kept and named if `keep`."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield tmp
    finally:
        if keep:
            print(f"outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
