#!/usr/bin/env python3
"""PID 1 of the app image: runs the API and the workers as sibling processes (ADR-049 D1, ADR-109).

Before anything starts it writes file secrets to /etc/spectral, then it gives each child only the
secrets scoped to it (D6), forwards SIGTERM/SIGINT to both, reaps orphans, and exits with the status of
the child that stopped first (128+N for a signal), or 0 after a shutdown it was asked for.

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
import json
import os
import shlex
import signal
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


def child_environment(service: str, layout: SecretLayout, environ: dict[str, str]) -> dict[str, str]:
    """The container's environment minus every secret the service may not see, and minus file secrets."""
    hidden = {MANIFEST_VARIABLE, *layout.files, *(name for name in environ if name.startswith(FILE_PREFIX))}
    hidden |= {name for name, scope in layout.env.items() if scope not in ("app", service)}
    return {name: value for name, value in environ.items() if name not in hidden}


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
    environments: dict[str, dict[str, str]]
    grace_seconds: float
    children: dict[int, str] = field(default_factory=dict)
    stopping_since: float | None = None
    killed: bool = False
    first_exit: tuple[str, int] | None = None
    statuses: list[int] = field(default_factory=list)
    stop_requested: bool = False

    def start(self) -> None:
        for service in SERVICES:
            try:
                # posix_spawn with an empty mask: the children must not inherit our blocked signals.
                pid = os.posix_spawnp(
                    self.commands[service][0],
                    self.commands[service],
                    self.environments[service],
                    setsigmask=(),
                    setsigdef=FORWARDED,
                )
            except OSError as error:
                log(f"could not start {service}: {error}")
                self.first_exit = (service, 127)
                self.statuses.append(127)
                self.begin_stop(signal.SIGTERM)
                return
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


def become_subreaper() -> None:
    """Orphans re-parent to us even when we are not PID 1 (under `docker run --init`, or in tests)."""
    try:
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> int:
    environ = dict(os.environ)
    become_subreaper()
    secrets_dir = Path(environ.get("SPECTRAL_SECRETS_DIR", "/etc/spectral"))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *FORWARDED})
    try:
        layout = parse_layout(environ, secrets_dir)
        write_files(decode_files(layout, environ))
        grace = float(environ.get("SPECTRAL_STOP_GRACE_SECONDS", "30"))
        commands = {
            service: shlex.split(environ.get(f"SPECTRAL_{service.upper()}_COMMAND", DEFAULT_COMMANDS[service]))
            for service in SERVICES
        }
    except SecretError as error:
        log(f"refusing to start: {error}")
        return 2
    except ValueError as error:
        log(f"refusing to start: bad setting: {error}")
        return 2
    environments = {service: child_environment(service, layout, environ) for service in SERVICES}
    supervisor = Supervisor(commands=commands, environments=environments, grace_seconds=grace)
    supervisor.start()
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
