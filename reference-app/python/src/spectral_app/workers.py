"""The workers entrypoint: a loop that would claim outbox jobs, and stops cleanly on SIGTERM or SIGINT."""

import os
import signal
import sys
import threading
from types import FrameType


def run(interval_seconds: float) -> int:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        print(f"workers: received {signal.Signals(signum).name}, stopping", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"workers: started (generation {os.environ.get('SPECTRAL_GENERATION', 'unset')})", flush=True)
    while not stop.wait(interval_seconds):
        print("workers: idle, no jobs claimed", flush=True)
    print("workers: stopped", flush=True)
    return 0


def main() -> int:
    return run(float(os.environ.get("SPECTRAL_WORKERS_INTERVAL_SECONDS", "30")))


if __name__ == "__main__":
    sys.exit(main())
