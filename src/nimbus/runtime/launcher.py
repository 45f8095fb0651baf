"""Starting environments: which interpreter, which variables, spawn or fork from a zygote.

**Interpreter rule** (``resolve_runtime``): ``python3.X`` runs on the exact interpreter if one is
installed *and* can import awslambdaric and boto3 (``python3.X`` on PATH or a pyenv build
``~/.pyenv/versions/3.X.*``). Otherwise it runs on the nearest Python 3 that can: smallest distance
in minor version, the newer one on a tie; the server's own interpreter always qualifies, since
awslambdaric and boto3 are Nimbus dependencies. The note returned says which one was chosen, for the
control plane to show in the function's configuration and the environment's log.
``provided.al2`` / ``provided.al2023`` exec the zip's ``bootstrap`` (``/var/task/bootstrap``, else
``/opt/bootstrap``), as on AWS.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import glob
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nimbus.errors import ServiceError

log = logging.getLogger(__name__)

PYTHON_RUNTIMES = tuple(f"python3.{m}" for m in range(8, 16))
PROVIDED_RUNTIMES = ("provided.al2", "provided.al2023", "provided")
NODE_RUNTIMES = tuple(f"nodejs{m}.x" for m in (16, 18, 20, 22, 24, 26))
NODE_BOOTSTRAP = Path(__file__).with_name("node") / "bootstrap.mjs"  # Nimbus's Runtime API client for Node.js

# aws-contracts C.3: variables a function's Environment may not set
RESERVED_ENV_VARS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip


class InvalidRuntime(ServiceError):
    code = "InvalidRuntimeException"
    status = 502
    sender_fault = False


@lru_cache(maxsize=None)
def _can_run(python: str) -> tuple[int, int, int] | None:
    """The interpreter's version if it can import awslambdaric (with its native client) and boto3."""
    code = (
        "import sys, importlib.util as u\n"
        "ok = all(u.find_spec(m) for m in ('awslambdaric', 'runtime_client', 'boto3', 'botocore'))\n"
        "print('%d.%d.%d' % sys.version_info[:3] if ok else '')"
    )
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not re.fullmatch(r"\d+\.\d+\.\d+", out):
        return None
    a, b, c = (int(x) for x in out.split("."))
    return a, b, c


def _candidates(minor: int) -> list[str]:
    found = []
    w = _which(f"python3.{minor}")
    if w:
        found.append(w)
    found += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")), reverse=True)
    if sys.version_info[:2] == (3, minor):
        found.insert(0, sys.executable)
    return found


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


@lru_cache(maxsize=None)
def node_version(node: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def resolve_node(runtime: str) -> tuple[str, str]:
    """``(node_path, note)`` for a ``nodejsNN.x`` runtime: the Node.js on PATH (or ``NIMBUS_NODE``); the
    note says when its major version is not the runtime's."""
    node = os.environ.get("NIMBUS_NODE") or _which("node") or _which("nodejs")
    version = node_version(node) if node else None
    if not node or version is None:
        raise InvalidRuntime(f"No Node.js to run {runtime}: install Node.js (Debian: apt-get install nodejs) or set NIMBUS_NODE.")
    want = int(runtime[len("nodejs"):].split(".")[0])
    note = "" if version[0] == want else f"{runtime} is not installed; running on Node.js {'.'.join(map(str, version))} ({node})"
    return node, note


@lru_cache(maxsize=None)
def resolve_runtime(runtime: str) -> tuple[str, str]:
    """``(python_path, note)`` for a runtime; ``("", note)`` for provided runtimes (see module doc);
    ``(node_path, note)`` for Node.js runtimes."""
    if runtime in PROVIDED_RUNTIMES:
        return "", ""
    if is_node(runtime):
        return resolve_node(runtime)
    m = re.fullmatch(r"python3\.(\d+)", runtime)
    if not m:
        raise InvalidRuntime(f"The runtime {runtime} is not supported by Nimbus.")
    want = int(m.group(1))
    for py in _candidates(want):
        if _can_run(py):
            return py, ""
    order = sorted({mi for mi in range(6, 16) if mi != want}, key=lambda mi: (abs(mi - want), -mi))
    for mi in order:
        for py in _candidates(mi):
            v = _can_run(py)
            if v:
                return py, f"{runtime} is not installed with awslambdaric; running on Python {v[0]}.{v[1]}.{v[2]} ({py})"
    v = _can_run(sys.executable)
    if v:
        return sys.executable, f"{runtime} is not installed with awslambdaric; running on Python {v[0]}.{v[1]}.{v[2]} ({sys.executable})"
    raise InvalidRuntime(f"No Python interpreter able to run {runtime} (awslambdaric and boto3 are required).")


def python_version_of(python: str) -> tuple[int, int, int]:
    return _can_run(python) or (3, 0, 0)


def environment_variables(
    *,
    function_name: str,
    version: str,
    memory_mb: int,
    runtime: str,
    handler: str,
    region: str,
    log_group: str,
    log_stream: str,
    runtime_api: str,
    endpoint_url: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None,
    task_root: str,
    runtime_dir: str,
    opt_root: str | None,
    python_minor: int | None,
    tmpdir: str | None,
    user: Mapping[str, str],
    path_dirs: Sequence[str] = (),
    initialization_type: str = "on-demand",
    log_format: str = "Text",
    log_level: str | None = None,
) -> dict[str, str]:
    """The process environment of a function (aws-contracts C.3), user variables under reserved ones."""
    opt = opt_root or "/opt"
    env: dict[str, str] = {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": ":".join([*path_dirs, "/usr/local/bin", "/usr/bin", "/bin", f"{opt}/bin"]),
        "LD_LIBRARY_PATH": ":".join(["/lib64", "/usr/lib64", f"{task_root}/lib", f"{opt}/lib"]),
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_LAMBDA_LOG_FORMAT": log_format,
    }
    if python_minor is not None:
        env["PYTHONPATH"] = ":".join(python_opt_path(opt, python_minor))
    if tmpdir:
        env["TMPDIR"] = tmpdir
    env.update(user)
    env.update(
        {
            "_HANDLER": handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_ACCESS_KEY": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
        }
    )
    if session_token:
        env["AWS_SESSION_TOKEN"] = session_token
    if log_level:
        env["AWS_LAMBDA_LOG_LEVEL"] = log_level
    if runtime.startswith(("python", "nodejs")):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    if is_node(runtime):  # AWS's module search path: layers (per major version, then shared), the runtime, the code
        major = runtime[len("nodejs"):].split(".")[0]
        env.setdefault("NODE_PATH", f"{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{runtime_dir}/node_modules:{runtime_dir}:{task_root}")
    return env


def python_opt_path(opt_root: str, minor: int) -> list[str]:
    """Layer directories on sys.path, after /var/task and before the runtime's own (AWS's order)."""
    return [f"{opt_root}/python/lib/python3.{minor}/site-packages", f"{opt_root}/python"]


_SIGNAL_NAMES = {  # Go's os.ProcessState wording, as AWS's "Runtime exited with error: ..." uses
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGPIPE: "broken pipe",
    signal.SIGHUP: "hangup",
    signal.SIGQUIT: "quit",
    signal.SIGXCPU: "CPU time limit exceeded",
}


def describe_status(status: int, *, via_bwrap: bool = False) -> str:
    """A wait status as Go prints it: "exit status 1", "signal: killed"."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, signal.strsignal(sig) or f"signal {sig}").lower()
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if via_bwrap and code > 128 and code - 128 in _SIGNAL_NAMES:  # bwrap's init reports 128+signal
        return "signal: " + _SIGNAL_NAMES[signal.Signals(code - 128)]
    return f"exit status {code}"


@dataclass(slots=True)
class LaunchRequest:
    """Everything needed to start one environment's process."""

    argv: list[str]  # spawn: the full command (bwrap prefix included)
    env: dict[str, str]
    cwd: str
    out_fd: int
    cgroup_procs: str | None = None
    pass_fds: tuple[int, ...] = ()  # spawn only: descriptors the process gets as 3, 4, ... (external extensions' pipes)
    # zygote fork only
    handler: str = ""
    sys_path: list[str] = field(default_factory=list)
    sandbox: dict[str, object] | None = None


class Process:
    """A running environment process; ``on_exit(wait_status)`` is called once when it ends.

    ``pid`` is the process we signal (a process group leader; with a PID namespace, its init, whose
    death ends everything in it); ``worker_pid`` the one running the function (memory figures).
    """

    def __init__(self, pid: int, *, via_bwrap: bool = False, worker_pid: int | None = None) -> None:
        self.pid = pid
        self.worker_pid = pid if worker_pid is None else worker_pid
        self.via_bwrap = via_bwrap
        self.status: int | None = None
        self.on_exit: Callable[[int], None] | None = None

    def exited(self, status: int) -> None:
        if self.status is not None:
            return
        self.status = status
        cb, self.on_exit = self.on_exit, None
        if cb is not None:
            cb(status)

    def kill(self) -> None:
        if self.status is not None:
            return
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
                return
            except (ProcessLookupError, PermissionError):
                continue


_libc: ctypes.CDLL | None = None


def _set_pdeathsig() -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def spawn(req: LaunchRequest, *, via_bwrap: bool) -> Process:
    """Start a process directly (provided runtimes, the fallback, bwrap without a zygote)."""
    cg = req.cgroup_procs
    extra = req.pass_fds

    def preexec() -> None:
        _set_pdeathsig()
        if extra:  # numbered from 3 (copies first: a source may sit where another goes)
            copies = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in extra]
            for i, fd in enumerate(copies):
                os.dup2(fd, 3 + i)
        if cg:
            try:
                with open(cg, "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass

    p = subprocess.Popen(
        req.argv,
        env=req.env,
        cwd=req.cwd,
        stdin=subprocess.DEVNULL,
        stdout=req.out_fd,
        stderr=req.out_fd,
        start_new_session=True,
        preexec_fn=preexec,
        close_fds=True,
        pass_fds=tuple(range(3, 3 + len(extra))),
    )
    proc = Process(p.pid, via_bwrap=via_bwrap)
    _watch_child(p, proc)
    return proc


def _watch_child(p: "subprocess.Popen[bytes]", proc: Process) -> None:
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(p.pid)
    except (AttributeError, OSError):
        pidfd = -1

    def reap() -> None:
        try:
            pid, status = os.waitpid(p.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = p.pid, 0
        if pid == 0:
            return
        p.returncode = os.waitstatus_to_exitcode(status)
        if pidfd >= 0:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        proc.exited(status)

    if pidfd >= 0:
        loop.add_reader(pidfd, reap)
    else:

        async def poll() -> None:
            while proc.status is None:
                await asyncio.sleep(0.05)
                reap()

        loop.create_task(poll())
