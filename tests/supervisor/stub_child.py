"""A stand-in for the API or the workers: records what it sees, then behaves as told.

Usage: stub_child.py NAME OUT_DIR MODE, where MODE is one of
  wait         exit 0 on SIGTERM or SIGINT
  reraise      on SIGTERM, die by SIGTERM (as uvicorn does after a graceful shutdown)
  ignore-term  ignore SIGTERM (the supervisor must escalate to SIGKILL)
  exit:N       exit with status N after 0.3 s
  orphan       leave an orphaned grandchild that exits after 0.3 s, then wait
"""

from __future__ import annotations

import json
import os
import signal
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
record("ready")
while True:
    time.sleep(0.05)
