#!/usr/bin/env python3
"""PID 1 of the app image: runs the API and the workers as sibling processes (ADR-049 D1, ADR-109).

Before anything starts it writes file secrets to /etc/spectral, then it gives each child only the
secrets scoped to it (D6), forwards SIGTERM/SIGINT to both, reaps orphans, and exits with the status of
the child that stopped first (128+N for a signal), or 0 after a shutdown it was asked for.

Scopes are operating-system boundaries. PID 1 starts as root; each service runs as its own user:
- api as uid/gid 1001, workers as uid/gid 1002, both also in group 1000 (spectral), which may read the
  whole-app file secrets (root:1000, mode 0440, in a root-owned directory neither may write). A process may
  read another's /proc/<pid>/environ, mem or fd only as the same user (or with CAP_SYS_PTRACE), so no
  process of one scope, its grandchildren and their exec'd programs included, reads the other's.
- A child starts with no secret in its environment: it is this file run as `--child SERVICE -- <command>`,
  started as root (so no service user can open its /proc files), which drops to its scope's user and
  groups, makes itself non-dumpable, and only then reads its secrets as JSON from fd 3 (a socket). It puts
  them in os.environ and runs the Python command in-process (`python -m module`, `python script.py`, or a
  Python console script such as uvicorn).
- Nothing a service can write is run by the other: the child refuses to start when its working directory
  or any entry of sys.path is writable by its own user (in the image: /app, the venv and the source are
  root's), and its HOME is a directory that does not exist, with no user site-packages.
- PID 1 zeroes every secret in its own start-up environment block (what /proc/1/environ shows), and once
  both children run keeps only CAP_KILL (to signal them) with no_new_privs set: it never starts another.

The container contract (written by the Worker; see lib/secrets/bindings.ts):
  SPECTRAL_SECRET_MANIFEST   JSON, no values: {"env": {NAME: scope}, "files": {VAR: {"path", "scope"}}}
  NAME                       an env secret's value
  SPECTRAL_FILE_<NAME>       a file secret, base64; written to its path, never passed to a child
Scopes: "api", "workers" or "app" (both). File secrets are whole-app only (group 1000).

Settings (env): SPECTRAL_API_COMMAND, SPECTRAL_WORKERS_COMMAND (shell-style words),
SPECTRAL_STOP_GRACE_SECONDS (default 30; the platform kills after up to 15 minutes),
SPECTRAL_SECRETS_DIR (default /etc/spectral; tests point it elsewhere).

Standard library only; runs on Python 3.11 and later.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import json
import os
import runpy
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_VARIABLE = "SPECTRAL_SECRET_MANIFEST"
FILE_PREFIX = "SPECTRAL_FILE_"
SERVICES = ("api", "workers")
SCOPES = ("app", *SERVICES)
DEFAULT_COMMANDS = {
    "api": "uvicorn spectral_app.api:app --host 0.0.0.0 --port 8000",
    "workers": "python -m spectral_app.workers",
}
FORWARDED = (signal.SIGTERM, signal.SIGINT)
# Linux's limit on one file name, in bytes.
NAME_MAX = 255
# Child mode: `app_supervisor.py --child -- <command>` reads its secrets from this descriptor.
CHILD_FLAG = "--child"
SECRETS_FD = 3
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
# Each service's user and group; both are also in APP_GROUP, which owns the whole-app file secrets.
SCOPE_IDS = {"api": 1001, "workers": 1002}
APP_GROUP = 1000
CAP_KILL = 5


class SecretError(Exception):
    """The secret environment is malformed; nothing has been started or written."""


def log(message: str) -> None:
    print(f"app_supervisor: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SecretLayout:
    env: dict[str, str]
    files: dict[str, tuple[Path, str]]


def parse_layout(environ: dict[str, str], secrets_dir: Path) -> SecretLayout:
    raw = environ.get(MANIFEST_VARIABLE)
    stray = sorted(name for name in environ if name.startswith(FILE_PREFIX))
    if raw is None:
        if stray:
            raise SecretError(f"{', '.join(stray)} set but {MANIFEST_VARIABLE} is missing")
        return SecretLayout(env={}, files={})
    try:
        manifest = json.loads(raw)
        env = {str(name): str(scope) for name, scope in manifest.get("env", {}).items()}
        files = {
            str(var): (Path(str(spec["path"])), str(spec["scope"]))
            for var, spec in manifest.get("files", {}).items()
        }
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise SecretError(f"{MANIFEST_VARIABLE} is not valid: {error}") from None
    problems = [f"{name}: unknown scope {scope!r}" for name, scope in env.items() if scope not in SCOPES]
    for var, (path, scope) in files.items():
        if not var.startswith(FILE_PREFIX):
            problems.append(f"{var}: file secret variables start with {FILE_PREFIX}")
        if scope != "app":
            problems.append(f"{var}: file secrets are whole-app only, not {scope!r}")
        if path.parent != secrets_dir or path.name in ("", ".", ".."):
            problems.append(f"{var}: path {path} is not a file directly under {secrets_dir}")
        elif len(os.fsencode(path.name)) > NAME_MAX:
            problems.append(f"{var}: file name {path.name[:40]}... is over {NAME_MAX} bytes")
    claimed: dict[Path, str] = {}
    for var, (path, _scope) in sorted(files.items()):
        if path in claimed:
            problems.append(f"{var}: path {path} is also {claimed[path]}'s; give each file secret its own fileName")
        claimed.setdefault(path, var)
    problems += [f"{var}: not listed in {MANIFEST_VARIABLE}" for var in stray if var not in files]
    if problems:
        raise SecretError("; ".join(problems))
    return SecretLayout(env=env, files=files)


def decode_files(layout: SecretLayout, environ: dict[str, str]) -> dict[Path, bytes]:
    """Decodes every file secret before any is written, so a bad one leaves nothing behind."""
    decoded: dict[Path, bytes] = {}
    problems = []
    for var, (path, _scope) in sorted(layout.files.items()):
        value = environ.get(var)
        if value is None:
            problems.append(f"{var}: missing")
            continue
        try:
            decoded[path] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{var}: not valid base64")
    if problems:
        raise SecretError("; ".join(problems))
    return decoded


def write_files(decoded: dict[Path, bytes]) -> None:
    """All or nothing: every file goes to a temporary name first and is renamed into place only when all
    are written; any failure removes what this call wrote and raises SecretError naming the file."""
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    current = next(iter(decoded), None)
    try:
        for path, content in decoded.items():
            current = path
            descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".spectral-", suffix=".tmp")
            staged.append((Path(name), path))
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chown(name, 0, APP_GROUP)
            os.chmod(name, 0o440)
        for temporary, path in staged:
            current = path
            os.replace(temporary, path)
            placed.append(path)
    except OSError as error:
        for leftover in [*placed, *(temporary for temporary, _ in staged)]:
            leftover.unlink(missing_ok=True)
        reason = error.strerror or type(error).__name__
        raise SecretError(f"cannot write file secret {current}: {reason}; no file secret was written") from None
    for path, content in decoded.items():
        log(f"wrote file secret {path} ({len(content)} bytes, root:{APP_GROUP} mode 0440)")


def child_environment(layout: SecretLayout, environ: dict[str, str]) -> dict[str, str]:
    """The container's environment minus every secret and file secret: what each child starts with. Its
    HOME does not exist, so no user site-packages or dotfile another process planted is read."""
    hidden = {MANIFEST_VARIABLE, *layout.files, *layout.env, *(name for name in environ if name.startswith(FILE_PREFIX))}
    kept = {name: value for name, value in environ.items() if name not in hidden}
    return {**kept, "HOME": "/nonexistent", "PYTHONNOUSERSITE": "1"}


def child_secrets(service: str, layout: SecretLayout, environ: dict[str, str]) -> dict[str, str]:
    """The env secrets of the service's scope, handed over on fd 3 after the child is non-dumpable."""
    return {
        name: environ[name] for name, scope in layout.env.items() if scope in ("app", service) and name in environ
    }


def exit_status(wait_status: int) -> int:
    """A shell's view of a wait status: the exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def clean_after_stop(status: int) -> bool:
    """After we sent SIGTERM, exiting 0 or by (or re-raising, as uvicorn does) that signal is clean."""
    return status in (0, 128 + signal.SIGTERM, 128 + signal.SIGINT)


@dataclass
class Supervisor:
    commands: dict[str, list[str]]
    environment: dict[str, str]
    secrets: dict[str, dict[str, str]]
    grace_seconds: float
    children: dict[int, str] = field(default_factory=dict)
    stopping_since: float | None = None
    killed: bool = False
    first_exit: tuple[str, int] | None = None
    statuses: list[int] = field(default_factory=list)
    stop_requested: bool = False

    def start(self) -> None:
        for service in SERVICES:
            ours, theirs = socket.socketpair()
            try:
                # posix_spawn with an empty mask: the children must not inherit our blocked signals.
                pid = os.posix_spawn(
                    sys.executable,
                    [sys.executable, os.path.abspath(__file__), CHILD_FLAG, service, "--", *self.commands[service]],
                    self.environment,
                    file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), SECRETS_FD)],
                    setsigmask=(),
                    setsigdef=FORWARDED,
                )
            except OSError as error:
                log(f"could not start {service}: {error}")
                self.first_exit = (service, 127)
                self.statuses.append(127)
                self.begin_stop(signal.SIGTERM)
                return
            finally:
                theirs.close()
            with ours:
                ours.sendall(json.dumps(self.secrets.pop(service)).encode())
            self.children[pid] = service
            log(f"started {service} pid={pid}: {shlex.join(self.commands[service])}")

    def signal_children(self, signum: int) -> None:
        for pid, service in self.children.items():
            try:
                os.kill(pid, signum)
                log(f"sent {signal.Signals(signum).name} to {service} pid={pid}")
            except ProcessLookupError:
                pass

    def begin_stop(self, signum: int) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
            self.signal_children(signum)

    def reap(self) -> None:
        """The only waitpid in the process: our children's statuses are never taken by anyone else."""
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            service = self.children.pop(pid, None)
            if service is None:
                log(f"reaped orphan pid={pid}")
                continue
            status = exit_status(wait_status)
            self.statuses.append(status)
            log(f"{service} pid={pid} exited with status {status}")
            if self.first_exit is None:
                self.first_exit = (service, status)
                if not self.stop_requested:
                    log(f"stopping the others because {service} exited")
                    self.begin_stop(signal.SIGTERM)

    def run(self) -> int:
        watched = {signal.SIGCHLD, *FORWARDED}
        while self.children:
            timeout = 1.0
            if self.stopping_since is not None and not self.killed:
                remaining = self.stopping_since + self.grace_seconds - time.monotonic()
                if remaining <= 0:
                    log(f"grace period of {self.grace_seconds:g}s over")
                    self.signal_children(signal.SIGKILL)
                    self.killed = True
                else:
                    timeout = min(timeout, remaining)
            info = signal.sigtimedwait(watched, timeout)
            if info is not None and info.si_signo in FORWARDED:
                log(f"received {signal.Signals(info.si_signo).name}")
                self.stop_requested = True
                self.begin_stop(info.si_signo)
            self.reap()
        return self.outcome()

    def outcome(self) -> int:
        service, status = self.first_exit if self.first_exit else ("", 0)
        if not self.stop_requested:
            log(f"exiting with status {status}: {service} stopped first")
            return status
        if self.killed:
            log("exiting with status 137: a child ignored SIGTERM and was killed")
            return 128 + signal.SIGKILL
        unclean = [code for code in self.statuses if not clean_after_stop(code)]
        if unclean:
            log(f"exiting with status {unclean[0]}: a child failed while stopping")
            return unclean[0]
        log("shutdown complete")
        return 0


def prctl(option: int, value: int) -> int:
    result: int = ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    return result


def drop_to_scope(service: str) -> None:
    """Becomes the service's user, in its group and APP_GROUP only; with it go every capability."""
    ids = SCOPE_IDS[service]
    os.setgroups([APP_GROUP])
    os.setgid(ids)
    os.setuid(ids)
    if os.getuid() != ids or os.geteuid() != ids or os.getgid() != ids:
        raise SecretError(f"could not become uid {ids}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SecretError("could regain root after dropping it")


def keep_only_cap_kill() -> None:
    """PID 1 after both children started: it only signals and reaps them from now on."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    libc = ctypes.CDLL(None, use_errno=True)
    kill = 1 << CAP_KILL
    data = (Data * 2)(Data(kill, kill, 0), Data(0, 0, 0))
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), data) != 0:  # _LINUX_CAPABILITY_VERSION_3
        raise OSError(ctypes.get_errno(), "capset failed")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def writable_by_me(paths: list[str]) -> list[str]:
    """Which of these existing paths this process may write: its import path must have none."""
    return [path for path in paths if path and os.path.exists(path) and os.access(path, os.W_OK)]


def make_non_dumpable() -> None:
    """No other process of our user may read our /proc/<pid>/environ, mem, fd or maps (ptrace access)."""
    prctl(PR_SET_DUMPABLE, 0)
    if prctl(PR_GET_DUMPABLE, 0) != 0:
        raise SecretError("could not make this process non-dumpable, so its secrets would be readable")


def zero_start_environment(names: set[str]) -> None:
    """Zeroes the values of `names` in the environment block the kernel gave us (/proc/self/environ shows
    that block, not os.environ), then drops them from os.environ. Call before anything changes `environ`."""
    libc = ctypes.CDLL(None)
    entries = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
    index = 0
    while entries[index]:
        address = entries[index]
        entry = ctypes.string_at(address)
        key = entry.split(b"=", 1)[0]
        if os.fsdecode(key) in names:
            ctypes.memset(address + len(key) + 1, 0, len(entry) - len(key) - 1)
        index += 1
    for name in names:
        os.environ.pop(name, None)


@dataclass(frozen=True)
class PythonEntry:
    """How child mode runs a command in-process: `python -m module`, or a file (a script, a console script)."""

    module: str | None
    path: str | None
    argv: list[str]


def python_entry(variable: str, command: list[str]) -> PythonEntry:
    """The command's Python entry point; SecretError naming `variable` when it is not a Python program."""
    if not command:
        raise SecretError(f"{variable} is empty")
    program, *arguments = command
    if Path(program).name.startswith("python"):
        if arguments[:1] == ["-m"] and len(arguments) > 1:
            return PythonEntry(module=arguments[1], path=None, argv=[program, *arguments[2:]])
        if arguments and not arguments[0].startswith("-"):
            return PythonEntry(module=None, path=arguments[0], argv=arguments)
        raise SecretError(f"{variable}: python needs -m MODULE or a script")
    path = shutil.which(program)
    if path is None:
        raise SecretError(f"{variable}: {program} not found on PATH")
    with open(path, "rb") as handle:
        first_line = handle.readline()
    if not (first_line.startswith(b"#!") and b"python" in first_line):
        raise SecretError(
            f"{variable}: {program} is not a Python program; secrets are handed over in-process, so the command must be python -m MODULE, python SCRIPT, or a Python console script"
        )
    return PythonEntry(module=None, path=path, argv=[path, *arguments])


def run_child(service: str, command: list[str]) -> None:
    """Child mode: the scope's user first, non-dumpable, then the secrets from fd 3, then the command, in
    this process, from a working directory and an import path this user cannot write."""
    drop_to_scope(service)
    make_non_dumpable()
    # The supervisor's own directory (/app in the image): root's, so neither service can plant code there.
    os.chdir(Path(__file__).resolve().parent)
    with socket.socket(fileno=SECRETS_FD) as channel:
        received = b"".join(iter(lambda: channel.recv(65536), b""))
    os.environ.update(json.loads(received or b"{}"))
    entry = python_entry("the child's command", command)  # PID 1 checked it before starting us
    sys.argv = entry.argv
    # As `python -m` and `python script` have it.
    sys.path[0] = os.getcwd() if entry.module is not None else str(Path(entry.path or "").resolve().parent)
    planted = writable_by_me([os.getcwd(), *sys.path])
    if planted:
        log(f"{service}: refusing to run: {', '.join(planted)} is writable by uid {os.getuid()}, so code planted there would run; make it root's")
        sys.exit(2)
    if entry.module is not None:
        runpy.run_module(entry.module, run_name="__main__", alter_sys=True)
    elif entry.path is not None:
        runpy.run_path(entry.path, run_name="__main__")


def check_secrets_dir(secrets_dir: Path) -> None:
    """File secrets go only where no service may replace them: a root-owned directory nobody else writes."""
    try:
        info = secrets_dir.stat()
    except OSError as error:
        raise SecretError(f"{secrets_dir}: {error.strerror}") from None
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise SecretError(
            f"{secrets_dir} is not root's alone (owner uid {info.st_uid}, mode {info.st_mode & 0o777:04o}): a service could"
            f" replace a file secret; make it root:{APP_GROUP} mode 0750"
        )


def become_subreaper() -> None:
    """Orphans re-parent to us even when we are not PID 1 (under `docker run --init`, or in tests)."""
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    except (OSError, AttributeError):
        pass


def main() -> int:
    environ = dict(os.environ)
    become_subreaper()
    secrets_dir = Path(environ.get("SPECTRAL_SECRETS_DIR", "/etc/spectral"))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *FORWARDED})
    if os.geteuid() != 0:
        log(
            f"refusing to start: running as uid {os.geteuid()}, not root: PID 1 must start as root to run the api and"
            f" workers as their own users ({SCOPE_IDS['api']}, {SCOPE_IDS['workers']}); run the image as built"
        )
        return 2
    try:
        make_non_dumpable()
        layout = parse_layout(environ, secrets_dir)
        zero_start_environment({MANIFEST_VARIABLE, *layout.env, *layout.files})
        if layout.files:
            check_secrets_dir(secrets_dir)
        write_files(decode_files(layout, environ))
        grace = float(environ.get("SPECTRAL_STOP_GRACE_SECONDS", "30"))
        commands: dict[str, list[str]] = {}
        for service in SERVICES:
            variable = f"SPECTRAL_{service.upper()}_COMMAND"
            commands[service] = shlex.split(environ.get(variable, DEFAULT_COMMANDS[service]))
            python_entry(variable, commands[service])
    except SecretError as error:
        log(f"refusing to start: {error}")
        return 2
    except ValueError as error:
        log(f"refusing to start: bad setting: {error}")
        return 2
    supervisor = Supervisor(
        commands=commands,
        environment=child_environment(layout, environ),
        secrets={service: child_secrets(service, layout, environ) for service in SERVICES},
        grace_seconds=grace,
    )
    del environ
    supervisor.start()
    try:
        keep_only_cap_kill()
    except OSError as error:
        log(f"stopping: could not drop PID 1's privileges: {error}")
        supervisor.first_exit = ("supervisor", 2)
        supervisor.begin_stop(signal.SIGTERM)
    return supervisor.run()


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD_FLAG] and sys.argv[3:4] == ["--"] and sys.argv[2] in SCOPE_IDS:
        try:
            run_child(sys.argv[2], sys.argv[4:])
        except SecretError as error:
            log(f"{sys.argv[2]}: refusing to run: {error}")
            sys.exit(2)
    else:
        sys.exit(main())
