import os
import signal
import subprocess
import sys
import time


def test_workers_loop_until_sigterm_then_exit_zero() -> None:
    environment = {**os.environ, "SPECTRAL_WORKERS_INTERVAL_SECONDS": "0.05", "SPECTRAL_GENERATION": "7"}
    process = subprocess.Popen(
        [sys.executable, "-m", "spectral_app.workers"], env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "workers: started (generation 7)"
    assert process.stdout.readline().strip() == "workers: idle, no jobs claimed"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=5)
    assert process.returncode == 0
    assert time.monotonic() - started < 2
    assert output.rstrip().endswith("workers: received SIGTERM, stopping\nworkers: stopped")
