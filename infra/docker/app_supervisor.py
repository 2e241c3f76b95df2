#!/usr/bin/env python3
"""PID 1 of the app image: runs the API and the workers as sibling processes (ADR-049 D1, ADR-109).

Before anything starts it writes file secrets to /etc/spectral, then it gives each child only the
secrets scoped to it (D6), forwards SIGTERM/SIGINT to both, reaps orphans, and exits with the status of
the child that stopped first (128+N for a signal), or 0 after a shutdown it was asked for.

Scopes hold inside the container although every process runs as the one non-root user (UID 1000), whose
processes may otherwise read each other's /proc/<pid>/environ and /proc/<pid>/mem:
- PID 1 makes itself non-dumpable (prctl PR_SET_DUMPABLE 0), so no other process of that user may read its
  /proc files, and zeroes every secret in its own start-up environment block (what /proc/1/environ shows).
- A child starts with no secret in its environment: it is this file run as `--child -- <command>`, which
  first makes itself non-dumpable, then reads its secrets as JSON from fd 3 (a socket, which no sibling can
  open through /proc/<pid>/fd), puts them in os.environ and runs the Python command in-process
  (`python -m module`, `python script.py`, or a Python console script such as uvicorn). An exec would make
  the process dumpable again and put the secrets back into /proc/<pid>/environ.

The container contract (written by the Worker; see lib/secrets/bindings.ts):
  SPECTRAL_SECRET_MANIFEST   JSON, no values: {"env": {NAME: scope}, "files": {VAR: {"path", "scope"}}}
  NAME                       an env secret's value
  SPECTRAL_FILE_<NAME>       a file secret, base64; written to its path, never passed to a child
Scopes: "api", "workers" or "app" (both). File secrets are whole-app only: both children run as the
same user, so file permissions could not keep one child from another's file.

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
            os.chmod(name, 0o400)
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
        log(f"wrote file secret {path} ({len(content)} bytes, mode 0400)")


def child_environment(layout: SecretLayout, environ: dict[str, str]) -> dict[str, str]:
    """The container's environment minus every secret and file secret: what each child starts with."""
    hidden = {MANIFEST_VARIABLE, *layout.files, *layout.env, *(name for name in environ if name.startswith(FILE_PREFIX))}
    return {name: value for name, value in environ.items() if name not in hidden}


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
                    [sys.executable, os.path.abspath(__file__), CHILD_FLAG, "--", *self.commands[service]],
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


def run_child(command: list[str]) -> None:
    """Child mode: non-dumpable first, then the secrets from fd 3, then the command, in this process."""
    make_non_dumpable()
    with socket.socket(fileno=SECRETS_FD) as channel:
        received = b"".join(iter(lambda: channel.recv(65536), b""))
    os.environ.update(json.loads(received or b"{}"))
    entry = python_entry("the child's command", command)  # PID 1 checked it before starting us
    sys.argv = entry.argv
    if entry.module is not None:
        sys.path[0] = os.getcwd()  # as `python -m` has it
        runpy.run_module(entry.module, run_name="__main__", alter_sys=True)
    elif entry.path is not None:
        sys.path[0] = str(Path(entry.path).resolve().parent)
        runpy.run_path(entry.path, run_name="__main__")


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
    try:
        make_non_dumpable()
        layout = parse_layout(environ, secrets_dir)
        zero_start_environment({MANIFEST_VARIABLE, *layout.env, *layout.files})
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
    return supervisor.run()


if __name__ == "__main__":
    if sys.argv[1:3] == [CHILD_FLAG, "--"]:
        run_child(sys.argv[3:])
    else:
        sys.exit(main())
