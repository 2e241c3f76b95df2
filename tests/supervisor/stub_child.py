"""A stand-in for the API or the workers: records what it sees, then behaves as told.

Usage: stub_child.py NAME OUT_DIR MODE, where MODE is one of
  wait         exit 0 on SIGTERM or SIGINT
  reraise      on SIGTERM, die by SIGTERM (as uvicorn does after a graceful shutdown)
  ignore-term  ignore SIGTERM (the supervisor must escalate to SIGKILL)
  exit:N       exit with status N after 0.3 s
  orphan       leave an orphaned grandchild that exits after 0.3 s, then wait
  probe        start a subprocess and a forkserver multiprocessing pool (both hold this child's secrets in
               their environment, as `uvicorn --workers` would), then, once the other child has started,
               attack it from this scope: read the /proc environ and mem of the sibling, of each of its
               descendants and of the supervisor; plant a module in every directory of the sibling's import
               path and its working directory; replace or write each file secret. A control process of our
               own shows the reads work when nothing forbids them. Writes NAME.probe.json; then waits.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType



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


def main() -> None:
    descendants: dict[str, int] = {}
    if mode == "probe":
        # What a service's own processes look like: each inherits its secrets in its environment.
        # Not on our stderr: a pipe held open by a leftover would keep the test waiting for its end.
        helper = subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(helper.kill)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([])  # this script is no importable module: the server preloads nothing
        pool = context.Pool(1)
        from multiprocessing import forkserver, resource_tracker

        descendants = {
            "subprocess": helper.pid,
            "pool-worker": pool.apply(os.getpid),
            "forkserver": forkserver._forkserver._forkserver_pid,  # type: ignore[attr-defined]
            "resource-tracker": resource_tracker._resource_tracker._pid,  # type: ignore[attr-defined]
        }
    seen = {
        "pid": os.getpid(),
        "env": dict(os.environ),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": sorted(os.getgroups()),
        "cwd": os.getcwd(),
        "path": sys.path,
        "descendants": descendants,
    }
    (out / f"{name}.json").write_text(json.dumps(seen))
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
        sibling = json.loads(other.read_text())
        control = subprocess.Popen(["sleep", "30"], env={"CONTROL": "readable"})
        targets = {"sibling": sibling["pid"], "supervisor": os.getppid(), "control": control.pid}
        targets.update({f"sibling-{kind}": pid for kind, pid in sibling["descendants"].items()})

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

        def outcome_of(action: object) -> str:
            try:
                action()  # type: ignore[operator]
                return "done"
            except OSError as error:
                return errno.errorcode.get(error.errno or 0, str(error))

        for directory in sorted({sibling["cwd"], *filter(None, sibling["path"])}):
            if os.path.isdir(directory):
                planted = Path(directory) / "csv.py"
                results[f"plant {directory}"] = outcome_of(lambda: planted.write_text("raise SystemExit('planted')\n"))
        secrets_dir = Path(os.environ.get("SPECTRAL_SECRETS_DIR", "/etc/spectral"))
        for secret in sorted(secrets_dir.iterdir()) if secrets_dir.is_dir() else []:
            results[f"read {secret.name}"] = outcome_of(secret.read_bytes)
            results[f"write {secret.name}"] = outcome_of(lambda: secret.open("ab").close())
            results[f"replace {secret.name}"] = outcome_of(lambda: (secrets_dir / "x.tmp").write_text("forged"))
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


# A forkserver pool's workers import this file again (as __mp_main__): they must run none of it.
if __name__ == "__main__":
    name, out, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    main()
