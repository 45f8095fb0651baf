"""The server side of a zygote: start it, ask it to fork environments, hear their exits.

One zygote per (interpreter, sandboxed or not). It runs ``_zygote_main.py``; we talk over a
SOCK_SEQPACKET socket pair (one message per datagram, the output pipe passed with SCM_RIGHTS).
Forked environments are the zygote's children, so their exits reach us as ``{"exit", "status"}``
messages. If the zygote dies, its children die with it (PR_SET_PDEATHSIG) and the next start makes
a new zygote.

Sandboxing and fork: a sandboxed zygote runs inside bubblewrap with a user namespace where it keeps
CAP_SYS_ADMIN, so each forked child can unshare its own mount namespace, bind its function's code at
/var/task and layers at /opt, mount a sized tmpfs at /tmp, detach the host view and drop every
capability before any function code runs (``sandbox.py``). Fork-then-unshare keeps the warm heap;
exec'ing bwrap per environment would throw it away. Each environment also gets its own PID
namespace (its init and the function's process; a fresh /proc), so it cannot see or signal other
environments, the zygote or the server. The zygote forks each environment ahead of its request (a
spare), so a cold start does not wait for a fork.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
from collections import deque
from pathlib import Path

from nimbus.runtime import sandbox
from nimbus.runtime.launcher import LaunchRequest, Process

log = logging.getLogger(__name__)

ZYGOTE_SCRIPT = Path(__file__).with_name("_zygote_main.py")
RUNTIME_DIR = "/var/runtime"
_START_TIMEOUT_S = 60.0


class ZygoteError(RuntimeError):
    pass


class Zygote:
    def __init__(self, python: str, *, sandboxed: bool) -> None:
        self.python = python
        self.sandboxed = sandboxed
        self.preloaded: frozenset[str] = frozenset()
        self.version = ""
        self.pid_namespaces = False  # each environment in its own PID namespace (sandboxed zygotes)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._pending: deque[tuple[int, asyncio.Future[tuple[int, int]]]] = deque()
        self._children: dict[int, Process] = {}
        self._seq = 0
        self._ready: asyncio.Future[None] | None = None
        self._start_lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._sock is not None

    async def ensure_started(self) -> None:
        if self.alive and self._ready is not None and self._ready.done() and self._ready.exception() is None:
            return
        async with self._start_lock:
            if self.alive and self._ready is not None and self._ready.done() and self._ready.exception() is None:
                return
            self._stop()
            await self._start()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.sandboxed:
            script = f"{RUNTIME_DIR}/nimbus_zygote.py"
            argv = sandbox.bwrap_zygote_argv(
                roots=sandbox.python_roots(self.python),
                argv=[self.python, "-u", script, str(theirs.fileno())],
            )
            # bwrap wants the script bound before "--"
            i = argv.index("--")
            argv[i:i] = ["--ro-bind", str(ZYGOTE_SCRIPT), script]
            env["NIMBUS_ZYGOTE_SANDBOX"] = "1"
        else:
            argv = [self.python, "-u", str(ZYGOTE_SCRIPT), str(theirs.fileno())]
        self._proc = subprocess.Popen(
            argv, env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, cwd="/", start_new_session=True
        )
        theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), _START_TIMEOUT_S)
        except BaseException:
            self._stop()
            raise

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            msg = json.loads(data)
            if "exit" in msg:
                proc = self._children.pop(int(msg["exit"]), None)
                if proc is not None:
                    proc.exited(int(msg["status"]))
            elif "ready" in msg:
                self.preloaded = frozenset(msg.get("preloaded", ()))
                self.version = msg.get("version", "")
                self.pid_namespaces = bool(msg.get("pidns"))
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
            elif "seq" in msg and self._pending:
                _, fut = self._pending.popleft()
                if not fut.done():
                    if "pid" in msg:
                        fut.set_result((int(msg["pid"]), int(msg.get("worker", msg["pid"]))))
                    else:
                        fut.set_exception(ZygoteError(msg.get("error", "fork failed")))

    def _lost(self) -> None:
        log.warning("zygote exited python=%s", self.python)
        err = ZygoteError("zygote exited")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(err)
        self._stop()

    async def fork(self, req: LaunchRequest) -> Process:
        await self.ensure_started()
        sock = self._sock
        if sock is None:
            raise ZygoteError("zygote not running")
        self._seq += 1
        msg = {
            "seq": self._seq,
            "env": req.env,
            "cwd": req.cwd,
            "path": req.sys_path,
            "handler": req.handler,
            "sandbox": req.sandbox,
        }
        fut: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._pending.append((self._seq, fut))
        try:
            socket.send_fds(sock, [json.dumps(msg).encode()], [req.out_fd])
        except BlockingIOError:
            await asyncio.sleep(0.001)
            socket.send_fds(sock, [json.dumps(msg).encode()], [req.out_fd])
        pid, worker = await asyncio.wait_for(fut, 30)
        proc = Process(pid, worker_pid=worker)
        self._children[pid] = proc
        return proc

    def _stop(self) -> None:
        if self._sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            except RuntimeError:
                pass
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            self._proc = None
        while self._pending:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(ZygoteError("zygote exited"))
        for proc in list(self._children.values()):
            proc.exited(9)  # SIGKILL: the children die with the zygote
        self._children.clear()

    def close(self) -> None:
        self._stop()

    def rss_kb(self) -> int:
        """Resident memory of the zygote process (bwrap's child when sandboxed)."""
        if self._proc is None:
            return 0
        pid = self._proc.pid
        if self.sandboxed:
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                pid = int(kids[0]) if kids else pid
            except (OSError, ValueError):
                pass
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0
