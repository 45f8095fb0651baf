"""One execution environment: a process, its Runtime API port, its log stream, its state.

States: ``starting`` (process launched, runtime initialising) → ``ready`` (parked in /next) ⇄
``busy`` (an invocation in flight; with external extensions, until they end its post-invoke phase) →
``stopping`` (external extensions handling SHUTDOWN, extensions.py) → ``dead`` (exited, killed on
timeout or memory, stopped). The
process runs one invocation at a time; every way an invocation can end (response, error, init error,
exit, timeout, memory) resolves one future, and the result carries AWS's payload for it
(aws-contracts C.2).
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


import orjson

from nimbus.clock import Clock
from nimbus.runtime.extensions import SHUTDOWN_GRACE_S, ExtensionHub
from nimbus.runtime.output import LogSink, OutputStream
from nimbus.runtime.runtime_api import MAX_RESPONSE_BYTES, MAX_STREAMED_BYTES, PendingInvocation, RuntimeEndpoint
from nimbus.runtime.sandbox import Cgroup
from nimbus.runtime.launcher import Process, describe_status

INIT_TIMEOUT_S = 10.0  # AWS's init phase limit for on-demand functions
CREDENTIALS_MARGIN_S = 60.0  # an environment is retired when its keys would expire this close to an invocation's end
MEMORY_POLL_S = 0.05  # RSS polling period when no cgroup limits memory
_PIPE_SIZE = 1 << 20
_READ_CHUNK = 1 << 18


@dataclass(frozen=True, slots=True)
class InvocationResult:
    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled" or None
    log_tail: str | None  # last 4 KB of this invocation's log output (for LogType Tail), plain text
    executed_version: str
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    max_memory_used_mb: int
    streamed: bool = False  # the runtime streamed its response (Lambda-Runtime-Function-Response-Mode: streaming)
    content_type: str | None = None  # the streamed response's content type


class ResponseStream:
    """Where a streamed response goes as the runtime writes it (InvokeWithResponseStream): ``started`` is
    set when the runtime begins (its content type known), then ``chunks`` fill as bytes arrive. The one
    who invokes reads them while the invocation runs; its result says how it ended."""

    def __init__(self) -> None:
        self.executed_version: str | None = None
        self.content_type: str | None = None
        self.started = asyncio.Event()
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def begin(self, content_type: str | None) -> None:
        self.content_type = content_type
        self.started.set()

    def chunk(self, data: bytes) -> None:
        self.chunks.put_nowait(data)


@dataclass(slots=True)
class _Outcome:
    payload: bytes
    error_type: str | None = None  # None = success; else the REPORT "Error Type"
    timed_out: bool = False


def iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log_stream_name(epoch: float, version: str) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y/%m/%d/") + f"[{version}]{uuid.uuid4().hex}"


class Environment:
    """See the module docstring. Created by the pool; started with ``start(launch)``."""

    def __init__(
        self,
        *,
        function_arn: str,
        version: str,
        memory_mb: int,
        timeout_s: float,
        log_group: str,
        sink: LogSink,
        clock: Clock,
        cgroup: Cgroup | None,
        tmpdir: str | None = None,
        on_dead: Callable[["Environment"], None] | None = None,
        on_release: Callable[["Environment"], None] | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.function_arn = function_arn
        self.version = version
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.clock = clock
        self.log_stream = log_stream_name(clock.time(), version)
        arn_parts = function_arn.split(":")  # arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]
        self.output = OutputStream(
            sink, log_group, self.log_stream, lambda: int(clock.time() * 1000),
            region=arn_parts[3] if len(arn_parts) > 4 else None, account_id=arn_parts[4] if len(arn_parts) > 4 else None,
        )
        self.endpoint = RuntimeEndpoint(self)
        self.cgroup = cgroup
        self.tmpdir = tmpdir
        self.on_dead = on_dead
        self.on_release = on_release  # everything is gone (process, pipe, cgroup): e.g. revoke its keys
        self.access_key_id: str | None = None  # the scoped keys it was given, and when they expire
        self.credentials_expire_at: float | None = None
        self.state = "starting"
        self.process: Process | None = None
        self.last_used = clock.monotonic()
        self.invocations = 0
        self.init_duration_ms: float | None = None
        self.note = ""  # e.g. the interpreter substitution, logged on the first invocation
        self.provisioned = False  # started ahead of invocations for provisioned concurrency (never reaped idle)
        self.json_logs = False  # LoggingConfig LogFormat JSON: platform events as JSON records
        self.platform_logs = True  # SystemLogLevel WARN hides the INFO platform events (start, report)
        self._t_launch = 0.0
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._result: asyncio.Future[_Outcome] | None = None
        self._request_id = ""
        self._stream: ResponseStream | None = None  # a streamed response's consumer, if any
        self._streamed = False
        self._stream_type: str | None = None
        self._stream_parts: list[bytes] = []
        self._stream_bytes = 0
        self._init_error: tuple[str | None, bytes] | None = None
        self._exit_desc: str | None = None
        self._killed_for: str | None = None  # "timeout" | "memory"
        self._mem_at_kill = 0  # peak memory read just before a kill (the process's status goes with it)
        self._retire = False  # not to be reused after the current invocation
        self._out_r = -1
        self._out_w = -1
        self._status_fd = -1
        # external extensions (extensions.py): None for the usual environment
        self.extensions: ExtensionHub | None = None
        self._gate_w = -1  # written once every extension registered: the wrapper then starts the runtime
        self._ext_r = -1  # "<name> <status>" lines as extensions exit
        self._ext_out_r = -1  # the extensions' stdout and stderr
        self._ext_output: OutputStream | None = None
        self.child_fds: list[int] = []  # use_extensions' descriptors until the process holds them
        self._ext_buf = b""
        self._ext_failure: tuple[str, bytes] | None = None  # an extension failed: the next invocation fails
        self._runtime_parked = False
        self._post_invoke: asyncio.Future[None] | None = None  # until INVOKE extensions call event/next again
        self._shutdown_timer: asyncio.TimerHandle | None = None
        self.shutdown_done: asyncio.Future[None] | None = None  # the Shutdown phase, while extensions are told
        self.post_invoke: asyncio.Future[None] | None = None  # set while the post-invoke phase runs: the pool waits

    # -- lifecycle ---------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Open the Runtime API port and the output pipe (before the process exists)."""
        await self.endpoint.start()
        self._out_r, self._out_w = os.pipe2(os.O_CLOEXEC)
        try:
            fcntl.fcntl(self._out_r, 1031, _PIPE_SIZE)  # F_SETPIPE_SZ: fewer wake-ups for chatty handlers
        except OSError:
            pass
        os.set_blocking(self._out_r, False)
        asyncio.get_running_loop().add_reader(self._out_r, self._on_output)
        self._t_launch = time.perf_counter()

    async def wait_ready(self, timeout_s: float = INIT_TIMEOUT_S) -> str | None:
        """Wait for the runtime's init to end (it parks in /next): None when ready, else why not (an init
        error's type, or how the process ended). A timeout kills the environment, as AWS's init limit does."""
        if not self._ready.done():
            timer = asyncio.get_running_loop().call_later(timeout_s, self._kill, "timeout")
            try:
                await asyncio.shield(self._ready)
            except Exception:  # noqa: BLE001 - read below
                pass
            finally:
                timer.cancel()
        if self.state != "dead" and self._ready.done() and self._ready.exception() is None:
            return None
        if self._init_error is not None:
            return self._init_error[0] or "Runtime.Unknown"
        if self._killed_for == "timeout":
            return "Sandbox.Timedout"
        return self._exit_desc or "stopped"

    def use_extensions(self, hub: ExtensionHub) -> tuple[int, int, int]:
        """The function has external extensions: serve their API, and answer the (gate read, status
        write, extensions' output write) descriptors the launch wrapper takes as 3, 4, 5
        (``extensions.wrap_argv``); the caller closes them once the process holds them."""
        self.extensions = hub
        self.endpoint.extensions = hub
        hub.now = self.clock.time
        gate_r, self._gate_w = os.pipe2(os.O_CLOEXEC)
        self._ext_r, status_w = os.pipe2(os.O_CLOEXEC)
        self._ext_out_r, out_w = os.pipe2(os.O_CLOEXEC)
        loop = asyncio.get_running_loop()
        for fd, cb in ((self._ext_r, self._on_extension_exit), (self._ext_out_r, self._on_extension_output)):
            os.set_blocking(fd, False)
            loop.add_reader(fd, cb)
        out = self.output
        # the extensions' own lines: the same log stream, but not "function" records for the Telemetry API
        self._ext_output = OutputStream(out.sink, out.log_group, out.log_stream, out.now_ms, region=out.region, account_id=out.account_id)
        out.tap = self._function_lines
        self.child_fds = [gate_r, status_w, out_w]
        return gate_r, status_w, out_w

    def close_child_fds(self) -> None:
        """Our copies of the descriptors handed to the process (it holds them now, or never will)."""
        for fd in self.child_fds:
            os.close(fd)
        self.child_fds = []

    def _function_lines(self, lines: list[bytes]) -> None:
        hub = self.extensions
        if hub is not None and hub.subscriptions:
            for ln in lines:
                hub.telemetry("function", ln.decode("utf-8", "replace").replace("\r", "\n"))

    def _on_extension_output(self) -> None:
        try:
            data = os.read(self._ext_out_r, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data and self._ext_output is not None:
            self._ext_output.feed(data)
            return
        self._close_fd_reader("_ext_out_r")
        if self._ext_output is not None:
            self._ext_output.flush_partial()

    def _close_fd_reader(self, attr: str) -> None:
        fd = getattr(self, attr)
        if fd >= 0:
            try:
                asyncio.get_running_loop().remove_reader(fd)
            except RuntimeError:
                pass
            os.close(fd)
            setattr(self, attr, -1)

    @property
    def runtime_api(self) -> str:
        return self.endpoint.address

    @property
    def out_fd(self) -> int:
        return self._out_w

    def attach(self, process: Process) -> None:
        """The process is running: watch its exit, drop our copy of the pipe's write end."""
        self.process = process
        process.on_exit = self._on_exit
        if process.status is not None:
            self._on_exit(process.status)
        if self.cgroup is not None and not self.cgroup.pids():
            # the function's process (a PID namespace's init stays out). Off the event loop: a cgroup v1
            # move waits for an RCU grace period (~10 ms when none is under way), which the
            # environment's init should not wait for; what it allocates meanwhile is charged to us.
            asyncio.get_running_loop().run_in_executor(None, self.cgroup.add, process.worker_pid)
        if self._out_w >= 0:
            os.close(self._out_w)
            self._out_w = -1

    def fail_launch(self, message: str) -> None:
        if self._init_error is None:
                self._init_error = ("Runtime.Unknown", orjson.dumps({"errorMessage": message, "errorType": "Runtime.Unknown"}))
        self._die("launch failed")

    @property
    def alive(self) -> bool:
        return self.state not in ("dead",)

    def usable(self) -> bool:
        """Alive, and its credentials outlive one more invocation (else it is retired: a new
        environment gets fresh keys, as AWS recycles environments before their role session ends)."""
        if self.state == "dead" or self._retire:
            return False
        exp = self.credentials_expire_at
        return exp is None or self.clock.time() + self.timeout_s + CREDENTIALS_MARGIN_S < exp

    def retire(self) -> None:
        """Not to be reused: stopped when its current invocation ends."""
        self._retire = True

    def stop(self, reason: str | None = None) -> None:
        """Kill the process and release everything (idle reap, invalidation, shutdown). External
        extensions registered for SHUTDOWN are told first, and given ``SHUTDOWN_GRACE_S`` to finish:
        ``shutdownReason`` "failure" after an extension failed, "timeout" after an invocation timed
        out, else "spindown"."""
        hub = self.extensions
        if reason is None:
            reason = "failure" if self._ext_failure is not None else "timeout" if self._killed_for == "timeout" else "spindown"
        if self.state == "stopping":
            return
        if (
            hub is not None
            and self.state != "dead"
            and self._ready.done()
            and self.process is not None
            and self.process.status is None
            and hub.wants("SHUTDOWN")
        ):
            self.state = "stopping"
            self._retire = True
            loop = asyncio.get_running_loop()
            self.shutdown_done = loop.create_future()
            self._shutdown_timer = loop.call_later(SHUTDOWN_GRACE_S, self._end_shutdown)
            for sub in hub.subscriptions.values():  # what is buffered goes before the SHUTDOWN event
                sub.flush()
            hub.shutdown(reason, int((self.clock.time() + SHUTDOWN_GRACE_S) * 1000))
            if hub.settled():
                self._end_shutdown()
            return
        if self.process is not None:
            self.process.kill()
        self._die(None)

    # -- invoke ------------------------------------------------------------------------------------
    async def invoke(
        self,
        request_id: str,
        payload: bytes,
        *,
        invoked_arn: str,
        client_context: str | None,
        cognito_identity: str | None,
        tail: bool,
        stream: ResponseStream | None = None,
    ) -> InvocationResult:
        self.state = "busy"
        self.invocations += 1
        out = self.output
        out.reset_tail()
        cold = self.init_duration_ms is None
        loop = asyncio.get_running_loop()
        if not self._ready.done():
            init_timer = loop.call_later(INIT_TIMEOUT_S, self._kill, "timeout")
            try:
                await asyncio.shield(self._ready)
            except Exception:
                pass
            finally:
                init_timer.cancel()
        self._drain()
        if self.note and cold:
            out.platform(f"NIMBUS_NOTE {self.note}")
        hub = self.extensions
        if hub is not None and hub.subscriptions:
            hub.telemetry("platform.start", {"requestId": request_id, "version": self.version})
        if not self.json_logs:
            out.platform(f"START RequestId: {request_id} Version: {self.version}")
        elif self.platform_logs:
            out.platform(_platform_json(self.clock.time(), "platform.start", {"requestId": request_id, "version": self.version}))
        t0 = time.perf_counter()
        if self.state == "dead" or not self._ready.done() or self._ready.exception() is not None:
            outcome = self._dead_outcome(request_id)
        elif self._ext_failure is not None and self._ext_failure[0]:  # an extension failed since the last invocation
            et, body = self._ext_failure
            outcome, self._retire = _Outcome(body, et), True
        else:
            self._request_id = request_id
            self._stream, self._streamed, self._stream_type = stream, False, None
            self._stream_parts, self._stream_bytes = [], 0
            fut: asyncio.Future[_Outcome] = loop.create_future()
            self._result = fut
            now = self.clock.time()
            inv = PendingInvocation(
                request_id,
                payload,
                int((now + self.timeout_s) * 1000),
                invoked_arn,
                _trace_id(now),
                client_context,
                cognito_identity,
            )
            self.endpoint.dispatch(inv)
            if hub is not None and hub.wants("INVOKE"):
                self._post_invoke = loop.create_future()
                hub.invoke(request_id, inv.deadline_ms, invoked_arn, inv.trace_id)
            timer = loop.call_later(self.timeout_s, self._kill, "timeout")
            poller = None if self.cgroup is not None else loop.create_task(self._poll_memory())
            try:
                outcome = await fut
            finally:
                timer.cancel()
                if poller is not None:
                    poller.cancel()
                self._result = None
                self.endpoint.finish()
        duration_ms = (time.perf_counter() - t0) * 1000.0
        self._drain()
        max_mem = self._max_memory_mb() or self._mem_at_kill
        if hub is not None and hub.subscriptions:
            hub.telemetry("platform.runtimeDone", {"requestId": request_id, "status": _status(outcome), "metrics": {"durationMs": round(duration_ms, 3)}})
        post = self._post_invoke
        if post is not None and not post.done() and self.state == "busy" and not outcome.timed_out:
            # the response goes now; END/REPORT (whose Duration covers the extensions' post-invoke
            # work, as AWS bills it) and the next invocation wait until they all call event/next
            self.post_invoke = loop.create_future()
            result = self._finish(request_id, outcome, tail, duration_ms, max(1, math.ceil(duration_ms)), cold, max_mem, keep_busy=True)
            task = loop.create_task(self._after_post_invoke(post, request_id, outcome, t0, cold))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return result
        self._post_invoke = None
        if outcome.timed_out:
            message = f"Task timed out after {self.timeout_s:.2f} seconds"
            if self.json_logs:
                out.platform(orjson.dumps({"timestamp": iso_ms(self.clock.time()), "level": "ERROR", "requestId": request_id, "message": message}).decode())
            else:
                out.platform(f"{iso_ms(self.clock.time())} {request_id} {message}")
            duration_ms = max(duration_ms, self.timeout_s * 1000.0)
        billed = max(1, math.ceil(duration_ms))
        self._report(request_id, outcome, duration_ms, billed, cold, max_mem)
        return self._finish(request_id, outcome, tail, duration_ms, billed, cold, max_mem)

    async def _after_post_invoke(self, post: asyncio.Future[None], request_id: str, outcome: _Outcome, t0: float, cold: bool) -> None:
        """The post-invoke phase: wait (within the function's timeout) for the INVOKE extensions."""
        remaining = max(0.0, self.timeout_s - (time.perf_counter() - t0))
        try:
            await asyncio.wait_for(asyncio.shield(post), remaining)
        except asyncio.TimeoutError:
            self._retire = True
            self._kill("timeout")  # an extension kept the invoke phase past the timeout: the environment is reset
        finally:
            self._post_invoke = None
            duration_ms = (time.perf_counter() - t0) * 1000.0
            self._drain()
            max_mem = self._max_memory_mb() or self._mem_at_kill
            self._report(request_id, outcome, duration_ms, max(1, math.ceil(duration_ms)), cold, max_mem)
            self.last_used = self.clock.monotonic()
            if self.state == "busy":
                self.state = "ready"
            done, self.post_invoke = self.post_invoke, None
            if done is not None and not done.done():
                done.set_result(None)

    def _report(self, request_id: str, outcome: _Outcome, duration_ms: float, billed: int, cold: bool, max_mem: int) -> None:
        """END and REPORT (or LogFormat JSON's platform.report) for one invocation."""
        out = self.output
        hub = self.extensions
        if hub is not None and hub.subscriptions:
            tm: dict[str, float | int] = {
                "durationMs": round(duration_ms, 3), "billedDurationMs": billed, "memorySizeMB": self.memory_mb, "maxMemoryUsedMB": max_mem,
            }
            if cold and self.init_duration_ms is not None:
                tm["initDurationMs"] = round(self.init_duration_ms, 3)
            hub.telemetry("platform.report", {"requestId": request_id, "status": _status(outcome), "metrics": tm})
        if self.json_logs:
            if self.platform_logs:
                metrics: dict[str, float | int] = {
                    "durationMs": round(duration_ms, 3), "billedDurationMs": billed, "memorySizeMB": self.memory_mb, "maxMemoryUsedMB": max_mem,
                }
                if cold and self.init_duration_ms is not None:
                    metrics["initDurationMs"] = round(self.init_duration_ms, 3)
                record: dict[str, object] = {"requestId": request_id, "metrics": metrics, "status": "success"}
                if outcome.timed_out:
                    record["status"] = "timeout"
                elif outcome.error_type is not None and outcome.error_type.startswith("Runtime."):
                    record["status"], record["errorType"] = "error", outcome.error_type
                out.platform(_platform_json(self.clock.time(), "platform.report", record))
            return
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {self.memory_mb} MB\tMax Memory Used: {max_mem} MB"
        )
        if cold and self.init_duration_ms is not None:
            report += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        if outcome.error_type is not None and (outcome.timed_out or outcome.error_type.startswith("Runtime.")):
            report += f"\tStatus: {'timeout' if outcome.timed_out else 'error'}"
            if not outcome.timed_out:
                report += f"\tError Type: {outcome.error_type}"
        out.platform(f"END RequestId: {request_id}", report)

    def _finish(
        self, request_id: str, outcome: _Outcome, tail: bool, duration_ms: float, billed: int, cold: bool, max_mem: int,
        keep_busy: bool = False,
    ) -> InvocationResult:
        out = self.output
        self.last_used = self.clock.monotonic()
        if self.state == "busy" and not keep_busy:
            self.state = "ready"
        return InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            function_error=None if outcome.error_type is None else "Unhandled",
            log_tail=out.tail() if tail else None,
            executed_version=self.version,
            duration_ms=duration_ms,
            billed_duration_ms=billed,
            init_duration_ms=self.init_duration_ms if cold else None,
            max_memory_used_mb=max_mem,
            streamed=self._streamed,
            content_type=self._stream_type,
        )

    def _dead_outcome(self, request_id: str) -> _Outcome:
        if self._killed_for == "timeout":
            msg = f"{iso_ms(self.clock.time())} {request_id} Task timed out after {self.timeout_s:.2f} seconds"
            return _Outcome(orjson.dumps({"errorMessage": msg}), "Sandbox.Timedout", timed_out=True)
        if self._init_error is not None:
            et, body = self._init_error
            return _Outcome(_error_body(et, body), et or "Runtime.Unknown")
        return self._exit_outcome(request_id)

    def _exit_outcome(self, request_id: str) -> _Outcome:
        desc = self._exit_desc or "signal: killed"
        oom = self._killed_for == "memory" or (self.cgroup is not None and self.cgroup.oom_killed())
        et = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
        msg = f"RequestId: {request_id} Error: Runtime exited with error: {desc}"
        return _Outcome(orjson.dumps({"errorType": et, "errorMessage": msg}), et)

    # -- events from the Runtime API ---------------------------------------------------------------
    def on_ready(self) -> None:
        self._runtime_parked = True
        hub = self.extensions
        if hub is not None:
            if not hub.settled() or self._ready.done():
                return
            hub.init_done = True
        self.init_duration_ms = (time.perf_counter() - self._t_launch) * 1000.0
        if self.state == "starting":
            self.state = "ready"
        if not self._ready.done():
            self._ready.set_result(None)

    def on_response(self, request_id: str, body: bytes, too_large: bool) -> None:
        fut = self._result
        if fut is None or fut.done():
            return
        if too_large:
            # the Runtime API answered 413; awslambdaric treats that as fatal and exits, so this
            # environment is retired rather than handed the next invocation (which would see it die)
            self._retire = True
            msg = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
            fut.set_result(_Outcome(orjson.dumps({"errorMessage": msg, "errorType": "Function.ResponseSizeTooLarge"}), "Function.ResponseSizeTooLarge"))
        else:
            fut.set_result(_Outcome(body))

    def on_error(self, request_id: str, error_type: str | None, body: bytes) -> None:
        fut = self._result
        if fut is not None and not fut.done():
            fut.set_result(_Outcome(_error_body(error_type, body), error_type or "Unhandled"))

    # a streamed response: chunks go to the invocation's consumer as they arrive, else are gathered (a
    # plain Invoke of a streaming function answers the whole response, within the 6 MB payload limit)
    def on_stream_begin(self, request_id: str, content_type: str | None) -> None:
        if request_id == self._request_id and self._result is not None and not self._result.done():
            self._streamed, self._stream_type = True, content_type
            if self._stream is not None:
                self._stream.begin(content_type)

    def on_stream_chunk(self, request_id: str, data: bytes) -> None:
        if request_id != self._request_id or self._result is None or self._result.done():
            return
        self._stream_bytes += len(data)
        limit = MAX_STREAMED_BYTES if self._stream is not None else MAX_RESPONSE_BYTES
        if self._stream_bytes > limit:
            self._retire = True  # the runtime is still writing: it is not handed another invocation
            msg = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            self._result.set_result(_Outcome(orjson.dumps({"errorMessage": msg, "errorType": "Function.ResponseSizeTooLarge"}), "Function.ResponseSizeTooLarge"))
            return
        if self._stream is not None:
            self._stream.chunk(data)
        else:
            self._stream_parts.append(data)

    def on_stream_end(self, request_id: str, error_type: str | None, error_body: bytes | None) -> None:
        fut = self._result
        if request_id != self._request_id or fut is None or fut.done():
            return
        if error_type:
            fut.set_result(_Outcome(_error_body(error_type, error_body or b""), error_type))
        else:
            fut.set_result(_Outcome(b"".join(self._stream_parts)))
        self._stream_parts = []

    def on_init_error(self, error_type: str | None, body: bytes) -> None:
        self._init_error = (error_type, body)
        if not self._ready.done():
            self._ready.set_exception(RuntimeError("init error"))
            self._ready.exception()  # mark retrieved
        fut = self._result  # a provided runtime may post init/error late; treat as this invocation's end
        if fut is not None and not fut.done():
            fut.set_result(_Outcome(_error_body(error_type, body), error_type or "Runtime.Unknown"))

    # -- events from the extensions (extensions.py) ------------------------------------------------
    def on_extensions_registered(self) -> None:
        if self._gate_w >= 0:
            try:
                os.write(self._gate_w, b"go\n")
            except OSError:
                pass
            os.close(self._gate_w)
            self._gate_w = -1

    def on_extensions_settled(self) -> None:
        hub = self.extensions
        if hub is None or not hub.settled():
            return
        if not self._ready.done():
            if self._runtime_parked:
                self.on_ready()
        elif self._post_invoke is not None and not self._post_invoke.done():
            self._post_invoke.set_result(None)
        elif hub.shutting_down:
            self._end_shutdown()

    def on_extension_failure(self, error_type: str, body: bytes) -> None:
        if self._ext_failure is not None or self.state in ("dead", "stopping"):
            return
        if not self._ready.done():  # the Init phase fails (the environment is reset)
            self._ext_failure = (error_type, body)
            self.on_init_error(error_type, body)
            self._kill("extension")
            return
        fut = self._result
        if fut is not None and not fut.done():  # the invocation under way fails with it
            fut.set_result(_Outcome(body, error_type))
            self._retire = True
            self._ext_failure = ("", b"")  # reported; kept only as the shutdown's reason
            return
        self._ext_failure = (error_type, body)  # the next invocation fails with it, then the environment retires

    def _on_extension_exit(self) -> None:
        try:
            data = os.read(self._ext_r, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_fd_reader("_ext_r")
            return
        self._ext_buf += data
        *lines, self._ext_buf = self._ext_buf.split(b"\n")
        for line in lines:
            name, _, code = line.decode("utf-8", "replace").rpartition(" ")
            if self.extensions is not None and name:
                self.extensions.exited(name, int(code) if code.isdigit() else 1)

    def _close_extension_pipes(self) -> None:
        self._close_fd_reader("_ext_r")
        if self._ext_out_r >= 0:
            while True:  # what the extensions wrote last (e.g. on SHUTDOWN)
                try:
                    data = os.read(self._ext_out_r, 1 << 16)
                except OSError:
                    break
                if not data:
                    break
                if self._ext_output is not None:
                    self._ext_output.feed(data)
            self._close_fd_reader("_ext_out_r")
            if self._ext_output is not None:
                self._ext_output.flush_partial()
        if self._gate_w >= 0:
            os.close(self._gate_w)
            self._gate_w = -1

    def _end_shutdown(self) -> None:
        """The Shutdown phase is over (every extension took its SHUTDOWN, or the deadline passed)."""
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        if self.process is not None:
            self.process.kill()
        self._die(None)
        if self.shutdown_done is not None and not self.shutdown_done.done():
            self.shutdown_done.set_result(None)

    # -- process, output, limits -------------------------------------------------------------------
    def _on_exit(self, status: int) -> None:
        self._exit_desc = describe_status(status, via_bwrap=bool(self.process and self.process.via_bwrap))
        self._drain()
        if not self._ready.done():
            self._ready.set_exception(RuntimeError("exited during init"))
            self._ready.exception()
        fut = self._result
        if fut is not None and not fut.done():
            if self._killed_for == "timeout":
                msg = f"{iso_ms(self.clock.time())} {self._request_id} Task timed out after {self.timeout_s:.2f} seconds"
                fut.set_result(_Outcome(orjson.dumps({"errorMessage": msg}), "Sandbox.Timedout", timed_out=True))
            elif self._init_error is not None:
                et, body = self._init_error
                fut.set_result(_Outcome(_error_body(et, body), et or "Runtime.Unknown"))
            else:
                fut.set_result(self._exit_outcome(self._request_id))
        self._die("exited")

    def _kill(self, reason: str) -> None:
        if self._killed_for is None:
            self._killed_for = reason
        if self.process is not None and self.process.status is None:
            self._mem_at_kill = max(self._mem_at_kill, self._max_memory_mb())
            self.process.kill()
            if self.cgroup is not None:
                for pid in self.cgroup.pids():
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
        elif self.process is None:
            self._die(reason)

    async def _poll_memory(self) -> None:
        limit_kb = self.memory_mb * 1024
        while True:
            await asyncio.sleep(MEMORY_POLL_S)
            if self.process is not None and _tree_rss_kb(self.process.pid) > limit_kb:
                self._kill("memory")
                return

    def _max_memory_mb(self) -> int:
        """Peak resident memory: the process's VmHWM (shared zygote pages included, as AWS counts
        a fresh runtime's), or the cgroup's peak when the process is bwrap's child."""
        proc = self.process
        if proc is None:
            return 0
        if proc.via_bwrap and self.cgroup is not None:
            return max(1, math.ceil(self.cgroup.max_usage_bytes() / (1024 * 1024)))
        if self._status_fd < 0:
            try:
                self._status_fd = os.open(f"/proc/{proc.worker_pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return 0
        try:
            data = os.pread(self._status_fd, 4096, 0)
            i = data.index(b"VmHWM:")
            return max(1, math.ceil(int(data[i + 6 : data.index(b"kB", i)]) / 1024))
        except (OSError, ValueError):
            return 0

    def _on_output(self) -> None:
        try:
            data = os.read(self._out_r, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.output.feed(data)
            return
        self._close_output()

    def _drain(self) -> None:
        """Read what the process already wrote (it wrote before posting its response)."""
        while self._out_r >= 0:
            try:
                data = os.read(self._out_r, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_output()
                return
            self.output.feed(data)

    def _close_output(self) -> None:
        if self._out_r >= 0:
            try:
                asyncio.get_running_loop().remove_reader(self._out_r)
            except RuntimeError:
                pass
            os.close(self._out_r)
            self._out_r = -1
            self.output.flush_partial()

    def _die(self, reason: str | None) -> None:
        if self.state == "dead":
            return
        self.state = "dead"
        self.endpoint.close()
        if self._post_invoke is not None and not self._post_invoke.done():
            self._post_invoke.set_result(None)
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        if self.shutdown_done is not None and not self.shutdown_done.done():
            self.shutdown_done.set_result(None)
        if self._out_w >= 0:
            os.close(self._out_w)
            self._out_w = -1
        if not self._ready.done():
            self._ready.set_exception(RuntimeError(reason or "stopped"))
            self._ready.exception()
        if self.process is None or self.process.status is not None:
            self._release()
        else:
            prev = self.process.on_exit

            def later(status: int) -> None:
                if prev is not None:
                    prev(status)
                self._release()

            self.process.on_exit = later
        if self.on_dead is not None:
            self.on_dead(self)

    def _release(self) -> None:
        if self._status_fd >= 0:
            os.close(self._status_fd)
            self._status_fd = -1
        self._drain()
        self._close_output()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        self.close_child_fds()
        if self.extensions is not None:
            self._close_extension_pipes()
            if self.process is not None and not self.process.via_bwrap:
                try:  # without a PID namespace, extensions outlive the runtime: end its process group
                    os.killpg(self.process.pid, 9)
                except OSError:
                    pass
        cb, self.on_release = self.on_release, None
        if cb is not None:
            cb(self)


def _status(outcome: _Outcome) -> str:
    """An invocation's status in platform events: success, error or timeout."""
    return "timeout" if outcome.timed_out else "success" if outcome.error_type is None else "error"


_background: set[asyncio.Task[None]] = set()  # post-invoke phases under way (a reference keeps them alive)


def _platform_json(now: float, kind: str, record: dict[str, object]) -> str:
    """A platform event as Lambda writes it to CloudWatch Logs under LogFormat JSON."""
    return orjson.dumps({"time": iso_ms(now), "type": kind, "record": record}).decode()


def _error_body(error_type: str | None, body: bytes) -> bytes:
    if body.strip():
        return body
    return orjson.dumps({"errorMessage": "", "errorType": error_type or "Unhandled"})


def _trace_id(now: float) -> str:
    r = os.urandom(20).hex()
    return f"Root=1-{int(now):08x}-{r[:24]};Parent={r[24:40]};Sampled=0"


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out += [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def _tree_rss_kb(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _status_kb(p, b"VmRSS:")
        stack += _children(p)
    return total


def _hwm_kb(pid: int) -> int:
    best, stack = 0, [pid]
    while stack:
        p = stack.pop()
        best = max(best, _status_kb(p, b"VmHWM:"))
        stack += _children(p)
    return best


