"""The early attack on a child: from the moment the workers child exists, open its /proc/<pid>/mem at once,
again and again, as another scope's user would, and keep any descriptor the kernel hands out. Each try is
recorded with the target's uid at that moment: root (the supervisor's fork, before it drops) or its own.

Usage (as the api's user): early_attacker.py REPORT. REPORT.ready appears once it is watching; REPORT gets
the tries as JSON, [[uid, outcome], ...], once the target has dropped root or after 8 s.
"""

import errno
import json
import os
import sys
import time

report = sys.argv[1]
tries: list[tuple[str, str]] = []
seen = set(os.listdir("/proc"))
deadline = time.monotonic() + 8
open(report + ".ready", "w").close()  # only now: every process from here on is one it looks at


def attack(pid: str) -> None:
    """Opens the target's mem until it runs as its own user (or is gone)."""
    while time.monotonic() < deadline:
        uid = "gone"
        try:
            uid = open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0]
            with open(f"/proc/{pid}/mem", "rb"):
                tries.append((uid, "opened"))
        except OSError as error:
            tries.append((uid, errno.errorcode.get(error.errno or 0, str(error))))
        if uid != "0":
            return


while time.monotonic() < deadline and not any(uid not in ("0", "gone") for uid, _ in tries):
    for pid in set(os.listdir("/proc")) - seen:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                words = handle.read().split(bytes(1))
        except OSError:
            seen.add(pid)
            continue
        if words[2:4] == [b"--child", b"workers"]:
            seen.add(pid)
            attack(pid)
        elif words != [b""] and not any(word.endswith(b"app_supervisor.py") for word in words):
            # Not the supervisor's own fork before it runs the child, nor a process mid-exec (an empty
            # cmdline): those are looked at again until they are what they will be.
            seen.add(pid)
with open(report + ".tmp", "w") as output:
    json.dump(tries, output)
os.replace(report + ".tmp", report)  # whole, or not there yet
