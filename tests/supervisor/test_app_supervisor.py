"""app_supervisor.py with stub children (tests/supervisor/stub_child.py), as real processes."""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
SUPERVISOR = HERE.parent.parent / "infra" / "docker" / "app_supervisor.py"
STUB = HERE / "stub_child.py"


def limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def usable_by_anyone(path: Path) -> bool:
    """Every directory on the way is searchable, and the file executable, by other users."""
    resolved = path.resolve()
    return all(part.stat().st_mode & 0o001 for part in [*resolved.parents, resolved])


ROOT = os.geteuid() == 0
# The children drop to their scopes' users, so the interpreter must be one they may run (the running one
# may sit in root's home, under pyenv).
ANYONE_PYTHON = next(
    (str(path) for path in (Path(sys.executable), Path("/usr/bin/python3")) if usable_by_anyone(path)), None
)


def require_root() -> None:
    """The supervisor separates scopes by user, which only root can do: elsewhere say so, and fail under CI."""
    reason = (
        "the supervisor runs as root in the image; run pytest as root"
        if not ROOT
        else f"no Python interpreter the scopes' users may run ({sys.executable} is not)"
    )
    if ROOT and ANYONE_PYTHON is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run: {reason}")
    pytest.skip(f"SKIPPED: {reason}")


class Run:
    # A command to run the supervisor under, e.g. to drop privileges, and the interpreter for it and the stubs.
    prefix: list[str] = []
    interpreter = ANYONE_PYTHON or sys.executable
    needs_root = True

    def __init__(
        self,
        tmp_path: Path,
        api: str = "wait",
        workers: str = "wait",
        file_size_limit: str | None = None,  # bytes; a str, like the env values in **env
        secrets_mode: str = "755",  # octal, a str like the env values
        **env: str,
    ) -> None:
        if self.needs_root:
            require_root()
        # Where the children (other users) write what they saw: pytest makes its directories root-only, so
        # they become searchable. The secrets directory is root's alone.
        for part in [tmp_path, *tmp_path.parents]:
            if part == Path(tempfile.gettempdir()) or part == part.parent:
                break
            part.chmod(part.stat().st_mode | 0o011)
        self.out = tmp_path / "out"
        self.secrets = tmp_path / "secrets"
        self.out.mkdir()
        self.secrets.mkdir(exist_ok=True)
        self.out.chmod(0o777)  # mkdir's mode is cut by the umask
        self.secrets.chmod(int(secrets_mode, 8))
        base = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRAL_")}
        self.process = subprocess.Popen(
            [*self.prefix, self.interpreter, str(SUPERVISOR)],
            env={
                **base,
                "SPECTRAL_SECRETS_DIR": str(self.secrets),
                "SPECTRAL_API_COMMAND": f"{self.interpreter} {STUB} api {self.out} {api}",
                "SPECTRAL_WORKERS_COMMAND": f"{self.interpreter} {STUB} workers {self.out} {workers}",
                "SPECTRAL_STOP_GRACE_SECONDS": "1",
                **env,
            },
            stderr=subprocess.PIPE,
            text=True,
            # A write that fails part-way, as on a full disk: past RLIMIT_FSIZE, write() fails with EFBIG
            # (CPython ignores SIGXFSZ).
            preexec_fn=None if file_size_limit is None else lambda: limit_file_size(int(file_size_limit)),
        )

    def wait_ready(self, *names: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all("ready" in self.events(name) for name in names):
                return
            time.sleep(0.02)
        raise AssertionError(f"children not ready: {self.stop_and_log()}")

    def events(self, name: str) -> list[str]:
        path = self.out / f"{name}.events"
        return path.read_text().split() if path.exists() else []

    def seen(self, name: str) -> dict[str, Any]:
        seen: dict[str, Any] = json.loads((self.out / f"{name}.json").read_text())
        return seen

    def finish(self, timeout: float = 10) -> tuple[int, str]:
        _, log = self.process.communicate(timeout=timeout)
        return self.process.returncode, log

    def stop_and_log(self) -> str:
        self.process.kill()
        return self.process.communicate()[1]


class NonRootRun(Run):
    """The supervisor as a plain user with no capabilities (nobody): it must refuse to start."""

    prefix = (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        if ROOT
        else []
    )
    needs_root = False


def assert_refused_before_start(run: Run, line: str) -> None:
    """The supervisor said `line`, exited 2, and started no child."""
    status, log = run.finish()
    assert status == 2, log
    assert line in log.splitlines()
    assert not list(run.out.iterdir())


def manifest(env: dict[str, str] | None = None, files: dict[str, dict[str, str]] | None = None) -> str:
    return json.dumps({"env": env or {}, "files": files or {}})


def test_forwards_sigterm_to_both_children_and_exits_0(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.wait_ready("api", "workers")
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0, log
    assert run.events("api")[-1] == "SIGTERM"
    assert run.events("workers")[-1] == "SIGTERM"
    assert "received SIGTERM" in log and "shutdown complete" in log


def test_forwards_sigint(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.wait_ready("api", "workers")
    run.process.send_signal(signal.SIGINT)
    status, _ = run.finish()
    assert status == 0
    assert run.events("api")[-1] == "SIGINT" and run.events("workers")[-1] == "SIGINT"


def test_uvicorn_style_reraise_of_sigterm_is_a_clean_stop(tmp_path: Path) -> None:
    run = Run(tmp_path, api="reraise")
    run.wait_ready("api", "workers")
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert status == 0, log
    assert "api pid=" in log and "exited with status 143" in log


def test_a_child_crash_stops_the_other_and_exits_with_its_status(tmp_path: Path) -> None:
    run = Run(tmp_path, workers="exit:3")
    status, log = run.finish()
    assert status == 3, log
    assert run.events("api")[-1] == "SIGTERM"
    assert "stopping the others because workers exited" in log


def test_a_child_killed_by_a_signal_maps_to_128_plus_n(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.wait_ready("api", "workers")
    os.kill(run.seen("workers")["pid"], signal.SIGKILL)
    status, log = run.finish()
    assert status == 128 + signal.SIGKILL, log
    assert run.events("api")[-1] == "SIGTERM"


def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    run = Run(tmp_path, workers="ignore-term")
    run.wait_ready("api", "workers")
    started = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    elapsed = time.monotonic() - started
    assert status == 137, log
    assert "SIGTERM-ignored" in run.events("workers")
    assert "grace period of 1s over" in log and "sent SIGKILL to workers" in log
    assert 0.9 <= elapsed < 5


def test_reaps_orphans_without_stealing_its_childrens_status(tmp_path: Path) -> None:
    run = Run(tmp_path, workers="orphan")
    run.wait_ready("api", "workers")
    orphan = Path(f"/proc/{(run.out / 'workers.orphan').read_text()}")
    # A zombie keeps its /proc entry until someone reaps it; the supervisor is that someone.
    deadline = time.monotonic() + 5
    while orphan.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not orphan.exists(), "the orphan was not reaped"
    run.process.send_signal(signal.SIGTERM)
    status, log = run.finish()
    assert f"reaped orphan pid={orphan.name}" in log
    assert status == 0, log
    assert log.count("exited with status 0") == 2


def test_writes_file_secrets_root_1000_0440_and_hides_their_variables(tmp_path: Path) -> None:
    certificate = b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    secrets = tmp_path / "secrets"
    run = Run(
        tmp_path,
        SPECTRAL_SECRET_MANIFEST=manifest(
            files={"SPECTRAL_FILE_CA": {"path": str(secrets / "ca.crt"), "scope": "app"}}
        ),
        SPECTRAL_FILE_CA=base64.b64encode(certificate).decode(),
    )
    run.wait_ready("api", "workers")
    written = secrets / "ca.crt"
    assert written.read_bytes() == certificate
    info = written.stat()
    assert stat.S_IMODE(info.st_mode) == 0o440
    assert (info.st_uid, info.st_gid) == (0, 1000)
    for child in ("api", "workers"):
        env = run.seen(child)["env"]
        assert "SPECTRAL_FILE_CA" not in env and "SPECTRAL_SECRET_MANIFEST" not in env
    run.process.send_signal(signal.SIGTERM)
    assert run.finish()[0] == 0


def test_each_child_sees_only_the_secrets_of_its_scope(tmp_path: Path) -> None:
    run = Run(
        tmp_path,
        SPECTRAL_SECRET_MANIFEST=manifest(env={"API_KEY": "api", "WORKER_KEY": "workers", "SHARED": "app"}),
        API_KEY="api-secret",
        WORKER_KEY="worker-secret",
        SHARED="shared-secret",
        SPECTRAL_GENERATION="42",
    )
    run.wait_ready("api", "workers")
    api, workers = run.seen("api")["env"], run.seen("workers")["env"]
    assert (api.get("API_KEY"), api.get("WORKER_KEY"), api.get("SHARED")) == ("api-secret", None, "shared-secret")
    assert (workers.get("API_KEY"), workers.get("WORKER_KEY"), workers.get("SHARED")) == (None, "worker-secret", "shared-secret")
    assert api["SPECTRAL_GENERATION"] == workers["SPECTRAL_GENERATION"] == "42"
    run.process.send_signal(signal.SIGTERM)
    _, log = run.finish()
    assert "secret" not in log.replace("file secret", "").replace("secrets", "")


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {
                "SPECTRAL_SECRET_MANIFEST": "FILES",
                "SPECTRAL_FILE_CA": "%%%",
            },
            "refusing to start: SPECTRAL_FILE_CA: not valid base64",
        ),
        ({"SPECTRAL_SECRET_MANIFEST": "{not json"}, "refusing to start: SPECTRAL_SECRET_MANIFEST is not valid"),
        ({"SPECTRAL_FILE_CA": "YWJj"}, "refusing to start: SPECTRAL_FILE_CA set but SPECTRAL_SECRET_MANIFEST is missing"),
    ],
)
def test_a_malformed_file_secret_stops_everything_with_a_clear_error(
    tmp_path: Path, env: dict[str, str], error: str
) -> None:
    secrets = tmp_path / "secrets"
    if env.get("SPECTRAL_SECRET_MANIFEST") == "FILES":
        env = {
            **env,
            "SPECTRAL_SECRET_MANIFEST": manifest(
                files={
                    "SPECTRAL_FILE_GOOD": {"path": str(secrets / "good.pem"), "scope": "app"},
                    "SPECTRAL_FILE_CA": {"path": str(secrets / "ca.crt"), "scope": "app"},
                }
            ),
            "SPECTRAL_FILE_GOOD": base64.b64encode(b"fine").decode(),
        }
    run = Run(tmp_path, **env)
    status, log = run.finish()
    assert status == 2
    assert error in log
    assert "Traceback" not in log
    assert not list(run.out.iterdir()), "no child may have started"
    assert not list(secrets.iterdir()), "no file secret may be left behind"


def two_file_secrets(secrets: Path, second: bytes) -> dict[str, str]:
    """File secrets A (small) and B, written in that order."""
    return {
        "SPECTRAL_SECRET_MANIFEST": manifest(
            files={
                "SPECTRAL_FILE_A": {"path": str(secrets / "a.pem"), "scope": "app"},
                "SPECTRAL_FILE_B": {"path": str(secrets / "b.pem"), "scope": "app"},
            }
        ),
        "SPECTRAL_FILE_A": base64.b64encode(b"first").decode(),
        "SPECTRAL_FILE_B": base64.b64encode(second).decode(),
    }


def assert_refused_cleanly(run: Run, error: str, left: list[str]) -> None:
    status, log = run.finish()
    assert status == 2, log
    assert f"app_supervisor: refusing to start: {error}" in log.splitlines()
    assert "Traceback" not in log
    assert "first" not in log, "no value in the log"
    assert not list(run.out.iterdir()), "no child may have started"
    assert sorted(entry.name for entry in run.secrets.iterdir()) == left, "no partial set of files"


def test_a_write_that_fails_part_way_leaves_no_file_and_starts_nothing(tmp_path: Path) -> None:
    run = Run(tmp_path, file_size_limit="4096", **two_file_secrets(tmp_path / "secrets", b"x" * 8192))
    assert_refused_cleanly(
        run,
        f"cannot write file secret {run.secrets / 'b.pem'}: File too large; no file secret was written",
        [],
    )


def test_a_rename_that_fails_after_another_file_was_placed_takes_that_file_back(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "b.pem").mkdir()
    run = Run(tmp_path, **two_file_secrets(tmp_path / "secrets", b"second"))
    assert_refused_cleanly(
        run,
        f"cannot write file secret {run.secrets / 'b.pem'}: Is a directory; no file secret was written",
        ["b.pem"],
    )


def test_a_file_name_over_255_bytes_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    name = "é" * 128 + ".pem"
    env = two_file_secrets(secrets, b"second")
    env["SPECTRAL_SECRET_MANIFEST"] = env["SPECTRAL_SECRET_MANIFEST"].replace("b.pem", name)
    run = Run(tmp_path, **env)
    assert_refused_cleanly(run, f"SPECTRAL_FILE_B: file name {name[:40]}... is over 255 bytes", [])


def test_two_file_secrets_with_one_path_are_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    env = two_file_secrets(secrets, b"second")
    env["SPECTRAL_SECRET_MANIFEST"] = env["SPECTRAL_SECRET_MANIFEST"].replace("b.pem", "a.pem")
    run = Run(tmp_path, **env)
    assert_refused_cleanly(
        run,
        f"SPECTRAL_FILE_B: path {secrets / 'a.pem'} is also SPECTRAL_FILE_A's; give each file secret its own fileName",
        [],
    )


def test_each_scope_is_its_own_user_and_neither_reaches_into_the_other(tmp_path: Path) -> None:
    """Each child attacks the other from inside its scope (stub_child.py's probe): the sibling's /proc environ
    and mem, its subprocess and its forkserver pool (which hold its secrets), the supervisor's; a module
    planted on the sibling's import path; the file secrets. Every attack meets the kernel's refusal; a
    control process of the attacker's own is read, which shows the reads work where nothing forbids them."""
    certificate = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    secrets = tmp_path / "secrets"
    run = Run(
        tmp_path,
        api="probe",
        workers="probe",
        SPECTRAL_SECRET_MANIFEST=manifest(
            env={"API_KEY": "api", "WORKER_KEY": "workers", "SHARED": "app"},
            files={"SPECTRAL_FILE_CA": {"path": str(secrets / "ca.crt"), "scope": "app"}},
        ),
        API_KEY="api-secret-canary",
        WORKER_KEY="worker-secret-canary",
        SHARED="shared-secret-canary",
        SPECTRAL_FILE_CA=certificate,
    )
    try:
        run.wait_ready("api", "workers")
        for child, uid in (("api", 1001), ("workers", 1002)):
            seen = run.seen(child)
            assert (seen["uid"], seen["gid"], seen["groups"]) == (uid, uid, [1000]), child
            probe = json.loads((run.out / f"{child}.probe.json").read_text())
            reads = {key: value for key, value in probe.items() if key.startswith(("sibling", "supervisor"))}
            assert set(reads) >= {
                f"sibling-{kind}-{part}"
                for kind in ("subprocess", "pool-worker", "forkserver", "resource-tracker")
                for part in ("environ", "mem")
            }, child
            assert set(reads.values()) == {"EACCES"}, (child, reads)
            assert (probe["control-environ"], probe["control-mem"]) == ("read", "read"), child
            plants = {key: value for key, value in probe.items() if key.startswith("plant ")}
            assert plants and set(plants.values()) == {"EACCES"}, (child, plants)
            assert probe["read ca.crt"] == "done", child
            assert (probe["write ca.crt"], probe["replace ca.crt"]) == ("EACCES", "EACCES"), child
            assert probe["dumpable"] == 0
        # The children still got their scopes, through fd 3.
        assert run.seen("api")["env"]["API_KEY"] == "api-secret-canary"
        assert "WORKER_KEY" not in run.seen("api")["env"]
        assert run.seen("workers")["env"]["WORKER_KEY"] == "worker-secret-canary"
    finally:
        run.process.send_signal(signal.SIGTERM)
        run.finish()


def test_a_child_refuses_to_run_code_from_a_directory_its_user_may_write(tmp_path: Path) -> None:
    writable = tmp_path / "writable"
    writable.mkdir()
    writable.chmod(0o777)
    shutil.copy(STUB, writable / "stub_child.py")
    run = Run(tmp_path, SPECTRAL_API_COMMAND=f"{Run.interpreter} {writable / 'stub_child.py'} api {tmp_path / 'out'} wait")
    status, log = run.finish()
    assert status == 2, log
    assert f"api: refusing to run: {writable} is writable by uid 1001, so code planted there would run; make it root's" in log
    assert not (run.out / "api.json").exists()


EARLY_ATTACKER = HERE / "early_attacker.py"


def test_an_open_of_a_child_s_mem_before_it_has_its_secrets_fails_too(tmp_path: Path) -> None:
    """A child exists before it receives its secrets: first as root (the supervisor's fork), then as its own
    user. An attacker of the other scope that opens its /proc/<pid>/mem at once, and keeps the descriptor,
    gets no descriptor at any moment: the kernel checks access at open, and neither uid is the attacker's."""
    require_root()
    report = tmp_path / "attacker.json"
    for part in [tmp_path, *tmp_path.parents]:
        if part == Path(tempfile.gettempdir()):
            break
        part.chmod(part.stat().st_mode | 0o033)
    attacker = subprocess.Popen(
        ["setpriv", "--reuid=1001", "--regid=1001", "--clear-groups", str(ANYONE_PYTHON), str(EARLY_ATTACKER), str(report)]
    )
    deadline = time.monotonic() + 10
    while not Path(f"{report}.ready").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    run = Run(tmp_path)
    try:
        attacker.wait(timeout=15)
        tries = json.loads(report.read_text())
    finally:
        run.process.send_signal(signal.SIGTERM)
        run.finish()
    uids = {uid for uid, _ in tries}
    assert "0" in uids and "1002" in uids, f"the attacker must see the child before and after it dropped root: {tries}"
    assert {outcome for _, outcome in tries} == {"EACCES"}, tries


def test_refuses_to_start_as_anyone_but_root(tmp_path: Path) -> None:
    assert_refused_before_start(
        NonRootRun(tmp_path),
        "app_supervisor: refusing to start: running as uid 65534, not root: PID 1 must start as root to run the api "
        "and workers as their own users (1001, 1002); run the image as built",
    )


def test_keeps_only_cap_kill_once_both_children_run(tmp_path: Path) -> None:
    run = Run(tmp_path)
    try:
        run.wait_ready("api", "workers")
        status = Path(f"/proc/{run.process.pid}/status").read_text()
        capabilities = dict(line.split(":\t") for line in status.splitlines() if line.startswith("Cap"))
        assert int(capabilities["CapEff"], 16) == int(capabilities["CapPrm"], 16) == 1 << 5  # CAP_KILL
        assert "NoNewPrivs:\t1" in status
    finally:
        run.process.send_signal(signal.SIGTERM)
        assert run.finish()[0] == 0


def test_refuses_file_secrets_in_a_directory_a_service_could_write(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    run = Run(
        tmp_path,
        secrets_mode="777",
        SPECTRAL_SECRET_MANIFEST=manifest(files={"SPECTRAL_FILE_CA": {"path": str(secrets / "ca.crt"), "scope": "app"}}),
        SPECTRAL_FILE_CA=base64.b64encode(b"x").decode(),
    )
    assert_refused_before_start(
        run,
        f"app_supervisor: refusing to start: {secrets} is not root's alone (owner uid 0, mode 0777): a service could "
        "replace a file secret; make it root:1000 mode 0750",
    )
    assert not list(secrets.iterdir())


def test_the_supervisor_keeps_no_secret_in_its_own_environment(tmp_path: Path) -> None:
    run = Run(
        tmp_path,
        SPECTRAL_SECRET_MANIFEST=manifest(env={"API_KEY": "api"}),
        API_KEY="api-secret-canary",
    )
    try:
        run.wait_ready("api", "workers")
        environ = Path(f"/proc/{run.process.pid}/environ")
        if ROOT:
            # Root reads any process's environment: the name stays there, its value zeroed.
            block = environ.read_bytes()
            assert b"API_KEY=" in block
            assert b"api-secret-canary" not in block
        else:
            # The same user may read a process's environment unless it is non-dumpable, as the supervisor is.
            with pytest.raises(PermissionError):
                environ.read_bytes()
    finally:
        run.process.send_signal(signal.SIGTERM)
        run.finish()


def test_a_command_that_is_not_python_is_refused_before_anything_starts(tmp_path: Path) -> None:
    assert_refused_before_start(
        Run(tmp_path, SPECTRAL_WORKERS_COMMAND="sleep 100"),
        "app_supervisor: refusing to start: SPECTRAL_WORKERS_COMMAND: sleep is not a Python program; secrets are "
        "handed over in-process, so the command must be python -m MODULE, python SCRIPT, or a Python console script",
    )
