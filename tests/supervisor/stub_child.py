"""A stand-in for the API or the workers: records what it sees, then behaves as told.

Usage: stub_child.py NAME OUT_DIR MODE, where MODE is one of
  wait         exit 0 on SIGTERM or SIGINT
  reraise      on SIGTERM, die by SIGTERM (as uvicorn does after a graceful shutdown)
  ignore-term  ignore SIGTERM (the supervisor must escalate to SIGKILL)
  exit:N       exit with status N after 0.3 s
  orphan       leave an orphaned grandchild that exits after 0.3 s, then wait
  probe        once the other child has started, try to read its and the supervisor's /proc files, and a
               control process's; write NAME.probe.json; then wait
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

name, out, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]


def record(line: str) -> None:
    with (out / f"{name}.events").open("a") as handle:
        handle.write(line + "\n")


def on_signal(signum: int, _frame: FrameType | None) -> None:
    record(signal.Signals(signum).name)
    if mode == "reraise" and signum == signal.SIGTERM:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    if mode != "ignore-term":
        sys.exit(0)


(out / f"{name}.json").write_text(json.dumps({"pid": os.getpid(), "env": dict(os.environ)}))
for forwarded in (signal.SIGTERM, signal.SIGINT):
    signal.signal(forwarded, on_signal)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, lambda signum, frame: record("SIGTERM-ignored"))
if mode.startswith("exit:"):
    time.sleep(0.3)
    sys.exit(int(mode.split(":", 1)[1]))
if mode == "orphan":
    middle = os.fork()
    if middle == 0:
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(0.3)
            os._exit(0)
        (out / f"{name}.orphan").write_text(str(grandchild))
        os._exit(0)
    os.waitpid(middle, 0)
if mode == "probe":
    other = out / ("workers.json" if name == "api" else "api.json")
    while not other.exists():
        time.sleep(0.02)
    control = subprocess.Popen(["sleep", "30"], env={"CONTROL": "readable"})
    targets = {"sibling": json.loads(other.read_text())["pid"], "supervisor": os.getppid(), "control": control.pid}

    def attempt(path: str) -> str:
        """Opening environ or mem is where the kernel checks access; environ is then read, mem only opened
        (address 0 of mem is unmapped)."""
        try:
            with open(path, "rb") as handle:
                if path.endswith("environ"):
                    handle.read()
            return "read"
        except OSError as error:
            return errno.errorcode.get(error.errno or 0, str(error))

    results: dict[str, object] = {}
    for label, pid in targets.items():
        for part in ("environ", "mem"):
            outcome = attempt(f"/proc/{pid}/{part}")
            # The control inherits our non-dumpable flag until its exec completes: give it a moment. The
            # others are read once: they were non-dumpable before they told us their pid.
            deadline = time.monotonic() + 2
            while label == "control" and outcome == "EACCES" and time.monotonic() < deadline:
                time.sleep(0.01)
                outcome = attempt(f"/proc/{pid}/{part}")
            results[f"{label}-{part}"] = outcome
    control.kill()
    try:
        with open("/proc/self/environ", "rb") as handle:
            results["own-environ"] = "read"
    except OSError as error:
        results["own-environ"] = errno.errorcode.get(error.errno or 0, str(error))
    results["dumpable"] = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
    (out / f"{name}.probe.json").write_text(json.dumps(results))
record("ready")
while True:
    time.sleep(0.05)
