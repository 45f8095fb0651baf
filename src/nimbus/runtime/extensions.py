"""External Lambda extensions: executables a layer ships in ``/opt/extensions``, and the Extensions API
(``/2020-01-01/extension/...``) they speak on their environment's Runtime API port.

An environment whose merged layers hold ``extensions/`` executables is spawned through a small
``/bin/sh`` wrapper, inside the same sandbox as the runtime: the wrapper starts every extension in the
background, each under a subshell that reports its exit status (``<name> <status>``) on a pipe, then
waits on a gate pipe until every extension has registered, and only then ``exec``s the runtime (AWS's
"Extension init" before "Runtime init"). The environment reads the status pipe (a crash), opens the
gate, and asks the ``ExtensionHub`` below whether each phase is over: init when every registered
extension is parked in ``event/next`` and the runtime in ``/next``; an invocation's post-invoke phase
when every INVOKE-registered extension is parked again; shutdown when every SHUTDOWN-registered one is
parked again or gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from datetime import datetime, timezone
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

log = logging.getLogger(__name__)

API_PREFIX = b"/2020-01-01/extension/"
TELEMETRY_PATH = b"/2022-07-01/telemetry"  # the Telemetry API's subscription (same port)
TELEMETRY_TYPES = frozenset({"platform", "function", "extension"})
# the Telemetry API's buffering defaults and bounds (AWS: maxItems 25..10,000, maxBytes 262,144..1 MB, timeoutMs 25..30,000)
DEFAULT_MAX_ITEMS, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS = 1000, 262_144, 1000
_BUFFERING_LIMITS = {"maxItems": (25, 10_000), "maxBytes": (262_144, 1_048_576), "timeoutMs": (25, 30_000)}
EXTENSIONS_DIR = "extensions"  # under /opt: where a layer puts its external extensions
SHUTDOWN_GRACE_S = 2.0  # AWS: the Shutdown phase lasts 2,000 ms when external extensions are registered
EVENT_TYPES = frozenset({"INVOKE", "SHUTDOWN"})

# AWS's failure types for an environment's extensions (the Invoke answer's errorType)
INIT_ERROR = "Extension.InitError"  # the extension called /extension/init/error
EXIT_ERROR = "Extension.ExitError"  # the extension called /extension/exit/error
CRASH = "Extension.Crash"  # the extension exited when it should not have
LAUNCH_ERROR = "Extension.LaunchError"  # it could not be started (sh: 126 not executable, 127 not found)

_NAME_HEADER = b"lambda-extension-name"
_ID_HEADER = b"lambda-extension-identifier"
_ERROR_TYPE_HEADER = b"lambda-extension-function-error-type"
_FEATURE_HEADER = b"lambda-extension-accept-feature"

# the wrapper the environment's process runs, given the gate (read) as fd 3, the status pipe (write) as
# fd 4 and the extensions' output pipe as fd 5; $1 is the extensions directory, then the runtime's argv.
# Each extension writes to fd 5 (its lines reach the log stream, not the Telemetry API's "function"
# records) and holds none of the others; its subshell keeps the status fd to say how it ended.
_WRAPPER = r"""
dir=$1
shift
for e in "$dir"/*; do
  [ -f "$e" ] && [ -x "$e" ] || continue
  ( "$e" </dev/null >&5 2>&5 3<&- 4>&- 5>&-; echo "${e##*/} $?" >&4 ) 3<&- &
done
read -r _ <&3
exec 3<&- 4>&- 5>&-
exec "$@"
"""


def find_extensions(opt_dir: Path | None) -> tuple[str, ...]:
    """The external extensions in a function's merged layers: executable files in ``/opt/extensions``."""
    if opt_dir is None:
        return ()
    d = opt_dir / EXTENSIONS_DIR
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return ()
    return tuple(n for n in names if (d / n).is_file() and os.access(d / n, os.X_OK))


def wrap_argv(argv: list[str], *, extensions_dir: str) -> list[str]:
    """The runtime's command line behind the wrapper that starts the extensions first (spawned with the
    environment's gate and status pipes as descriptors 3 and 4: ``LaunchRequest.pass_fds``)."""
    return ["/bin/sh", "-c", _WRAPPER, "nimbus-extensions", extensions_dir, *argv]


class Connection(Protocol):
    """A Runtime API connection (runtime_api._RuntimeProtocol): where answers are written."""

    closed: bool

    def write(self, data: bytes) -> bool: ...


class ExtensionEvents(Protocol):
    """What the environment hears from its extensions."""

    def on_extensions_registered(self) -> None: ...  # every external extension registered: start the runtime
    def on_extensions_settled(self) -> None: ...  # every extension owing an event/next called it
    def on_extension_failure(self, error_type: str, body: bytes) -> None: ...


@dataclass(eq=False, slots=True)
class Extension:
    id: str
    name: str
    events: frozenset[str]
    state: str = "registered"  # registered | ready | init_error | exit_error
    parked: Connection | None = None  # its event/next, waiting for an event
    pending: deque[bytes] = field(default_factory=deque)  # events not yet taken
    owes_next: bool = True  # has not called event/next since registering or since its last event
    exited: bool = False


def _answer(code: int, reason: str, body: dict[str, object], headers: str = "") -> bytes:
    payload = orjson.dumps(body)
    return (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n{headers}Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


def _forbidden(error_type: str, message: str) -> bytes:
    return _answer(403, "Forbidden", {"errorMessage": message, "errorType": error_type})


_ACCEPTED = _answer(202, "Accepted", {"status": "OK"})


class ExtensionHub:
    """The Extensions API of one environment and the state of its extensions (see the module docstring)."""

    def __init__(
        self,
        names: tuple[str, ...],
        events: ExtensionEvents,
        *,
        function_name: str,
        version: str,
        handler: str,
        account_id: str,
    ) -> None:
        self.names = names
        self.events = events
        self.function_name = function_name
        self.version = version
        self.handler = handler
        self.account_id = account_id
        self.by_id: dict[str, Extension] = {}
        self._unregistered = set(names)
        self.init_done = False
        self.shutting_down = False
        self.exits: dict[str, int] = {}  # an extension's exit status, by name
        self.subscriptions: dict[str, TelemetrySubscription] = {}  # Telemetry API, by extension id
        self.now = lambda: 0.0  # wall clock for telemetry records (the environment's clock)

    # -- phases ------------------------------------------------------------------------------------
    @property
    def all_registered(self) -> bool:
        return not self._unregistered

    def settled(self) -> bool:
        """Every live extension that owes an ``event/next`` called it (and, at init, all registered)."""
        if not self.init_done and self._unregistered:
            return False
        return all(e.exited or not e.owes_next for e in self.by_id.values())

    def wants(self, event: str) -> bool:
        return any(event in e.events and not e.exited for e in self.by_id.values())

    def invoke(self, request_id: str, deadline_ms: int, invoked_arn: str, trace_id: str) -> None:
        body = orjson.dumps(
            {
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": invoked_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
            }
        )
        for ext in self.by_id.values():
            if "INVOKE" in ext.events and not ext.exited:
                self._deliver(ext, body)

    def shutdown(self, reason: str, deadline_ms: int) -> None:
        self.shutting_down = True
        body = orjson.dumps({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms})
        for ext in self.by_id.values():
            if "SHUTDOWN" in ext.events and not ext.exited:
                self._deliver(ext, body)

    def _deliver(self, ext: Extension, body: bytes) -> None:
        ext.owes_next = True
        parked, ext.parked = ext.parked, None
        if parked is not None and parked.write(self._event(body)):
            return
        ext.pending.append(body)

    @staticmethod
    def _event(body: bytes) -> bytes:
        return (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Lambda-Extension-Event-Identifier: {uuid.uuid4()}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def exited(self, name: str, status: int) -> None:
        """The extension's process ended (its wrapper subshell said so)."""
        self.exits[name] = status
        ext = next((e for e in self.by_id.values() if e.name == name), None)
        if ext is not None:
            ext.exited = True
            if ext.parked is not None:
                ext.parked = None
        if self.shutting_down:
            self.events.on_extensions_settled()
            return
        if status in (126, 127) and ext is None:
            error_type = LAUNCH_ERROR
        elif ext is not None and ext.state == "init_error":
            error_type = INIT_ERROR
        elif ext is not None and ext.state == "exit_error":
            error_type = EXIT_ERROR
        else:
            error_type = CRASH
        message = "exit code 0" if status == 0 else f"exit status {status}"
        body = orjson.dumps({"errorType": error_type, "errorMessage": f"Extension {name} exited: {message}"})
        self.events.on_extension_failure(error_type, body)
        self.events.on_extensions_settled()

    def close(self) -> None:
        for ext in self.by_id.values():
            ext.parked = None
        for sub in self.subscriptions.values():
            sub.close()

    def telemetry(self, kind: str, record: object) -> None:
        """A record for the Telemetry API subscribers ("function" log lines, "platform.*" events)."""
        now = self.now()
        for sub in self.subscriptions.values():
            sub.add(kind, record, now)

    def subscribe(self, conn: Connection, method: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        if method != b"PUT":
            conn.write(_answer(404, "Not Found", {"errorMessage": "unknown path", "errorType": "InvalidPath"}))
            return
        ident = headers.get(_ID_HEADER, b"").decode("latin-1")
        if not ident:
            conn.write(_forbidden("Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"))
            return
        if ident not in self.by_id:
            conn.write(_forbidden("Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"))
            return
        sub = parse_subscription(body)
        if isinstance(sub, str):
            conn.write(_answer(400, "Bad Request", {"errorMessage": sub, "errorType": "ValidationError"}))
            return
        old = self.subscriptions.pop(ident, None)
        if old is not None:
            old.close()
        self.subscriptions[ident] = sub
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK")

    def lost(self, conn: Connection) -> None:
        for ext in self.by_id.values():
            if ext.parked is conn:
                ext.parked = None

    # -- the API -----------------------------------------------------------------------------------
    def handle(self, conn: Connection, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        op = path[len(API_PREFIX) :]
        if method == b"POST" and op == b"register":
            conn.write(self._register(headers, body))
            return
        if op not in (b"event/next", b"init/error", b"exit/error") or (method == b"GET") != (op == b"event/next"):
            conn.write(_answer(404, "Not Found", {"errorMessage": "unknown path", "errorType": "InvalidPath"}))
            return
        ident = headers.get(_ID_HEADER, b"").decode("latin-1")
        if not ident:
            conn.write(_forbidden("Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"))
            return
        ext = self.by_id.get(ident)
        if ext is None:
            conn.write(_forbidden("Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"))
            return
        if op == b"event/next":
            self._next(conn, ext)
        else:
            self._error(conn, ext, op == b"init/error", headers, body)

    def _register(self, headers: dict[bytes, bytes], body: bytes) -> bytes:
        name = headers.get(_NAME_HEADER, b"").decode("latin-1").strip()
        if not name:
            return _forbidden("Extension.InvalidExtensionName", "Missing Lambda-Extension-Name header")
        if self.init_done or self.shutting_down:
            return _forbidden("Extension.InvalidRegistration", f"Extension {name} registered after the Init phase")
        if any(e.name == name for e in self.by_id.values()):
            return _forbidden("Extension.AlreadyRegistered", f"Extension {name} is already registered")
        try:
            doc = orjson.loads(body) if body.strip() else {}
            events = doc.get("events", []) if isinstance(doc, dict) else None
        except orjson.JSONDecodeError:
            events = None
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            return _answer(400, "Bad Request", {"errorMessage": "Invalid request body", "errorType": "InvalidRequestFormat"})
        bad = [e for e in events if e not in EVENT_TYPES]
        if bad:
            return _answer(400, "Bad Request", {"errorMessage": f"Invalid event type: {bad[0]}", "errorType": "Extension.InvalidEventType"})
        ext = Extension(str(uuid.uuid4()), name, frozenset(events))
        self.by_id[ext.id] = ext
        answer: dict[str, object] = {"functionName": self.function_name, "functionVersion": self.version, "handler": self.handler}
        if b"accountId" in headers.get(_FEATURE_HEADER, b""):
            answer["accountId"] = self.account_id
        self._unregistered.discard(name)
        if not self._unregistered and name in self.names:
            self.events.on_extensions_registered()
        return _answer(200, "OK", answer, f"Lambda-Extension-Identifier: {ext.id}\r\n")

    def _next(self, conn: Connection, ext: Extension) -> None:
        if ext.state in ("init_error", "exit_error"):
            conn.write(_forbidden("Extension.InvalidExtensionState", f"Extension {ext.name} reported an error"))
            return
        ext.state = "ready"
        if ext.pending:
            conn.write(self._event(ext.pending.popleft()))
            return
        if ext.parked is not None and ext.parked is not conn and not ext.parked.closed:
            conn.write(_answer(409, "Conflict", {"errorMessage": "another event/next is pending", "errorType": "Extension.Conflict"}))
            return
        ext.parked = conn
        if ext.owes_next:
            ext.owes_next = False
            self.events.on_extensions_settled()

    def _error(self, conn: Connection, ext: Extension, at_init: bool, headers: dict[bytes, bytes], body: bytes) -> None:
        et = headers.get(_ERROR_TYPE_HEADER, b"").decode("latin-1")
        if not et:
            conn.write(_answer(400, "Bad Request", {"errorMessage": "Missing Lambda-Extension-Function-Error-Type header", "errorType": "InvalidRequestFormat"}))
            return
        if at_init and (self.init_done or ext.state == "exit_error"):
            conn.write(_forbidden("Extension.InvalidExtensionState", "init/error is only accepted during the Init phase"))
            return
        conn.write(_ACCEPTED)
        if ext.state in ("init_error", "exit_error"):
            return  # the first report stands; the extension is expected to exit
        ext.state = "init_error" if at_init else "exit_error"
        error_type = INIT_ERROR if at_init else EXIT_ERROR
        what = "failed to initialize" if at_init else "reported an exit error"
        message = f"Extension {ext.name} {what}: {et}"
        self.events.on_extension_failure(error_type, orjson.dumps({"errorType": error_type, "errorMessage": message}))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class TelemetrySubscription:
    """One extension's Telemetry API subscription: records buffered, then POSTed as a JSON array to its
    local HTTP listener when ``maxItems``/``maxBytes`` fill or ``timeoutMs`` passes (one batch in flight
    at a time; a listener that cannot be reached loses the batch)."""

    def __init__(self, types: frozenset[str], port: int, path: str, *, max_items: int, max_bytes: int, timeout_ms: int) -> None:
        self.types = types
        self.port = port
        self.path = path or "/"
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.timeout_s = timeout_ms / 1000.0
        self._records: list[bytes] = []
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: asyncio.Task[None] | None = None
        self._queue: deque[bytes] = deque()

    def add(self, kind: str, record: object, now: float) -> None:
        if kind.split(".", 1)[0] not in self.types:
            return
        item = orjson.dumps({"time": _iso(now), "type": kind, "record": record})
        self._records.append(item)
        self._bytes += len(item)
        if len(self._records) >= self.max_items or self._bytes >= self.max_bytes:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._records:
            return
        self._queue.append(b"[" + b",".join(self._records) + b"]")
        self._records, self._bytes = [], 0
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send_all())

    async def drain(self, timeout_s: float) -> None:
        """Send what is buffered (the Shutdown phase), within ``timeout_s``."""
        self.flush()
        if self._sending is not None and not self._sending.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._sending), timeout_s)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - a lost batch is logged below
                pass

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()

    async def _send_all(self) -> None:
        while self._queue:
            body = self._queue.popleft()
            try:
                await asyncio.wait_for(self._post(body), 5.0)
            except (OSError, asyncio.TimeoutError) as e:
                log.info("telemetry batch lost port=%d err=%s", self.port, e)

    async def _post(self, body: bytes) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            head = (
                f"POST {self.path} HTTP/1.1\r\nHost: sandbox.localdomain:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
            await reader.read(65536)  # its answer (any status: AWS does not retry a refused batch either)
        finally:
            writer.close()


def parse_subscription(body: bytes) -> TelemetrySubscription | str:
    """A ``PUT /2022-07-01/telemetry`` body: the subscription, or why it is refused."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "Invalid request body"
    if not isinstance(doc, dict):
        return "Invalid request body"
    types = doc.get("types")
    if not isinstance(types, list) or not types or not all(t in TELEMETRY_TYPES for t in types):
        return "types must be a list of platform, function, extension"
    dest = doc.get("destination")
    if not isinstance(dest, dict) or dest.get("protocol") != "HTTP" or not isinstance(dest.get("URI"), str):
        return "destination must be {protocol: HTTP, URI}"
    uri = dest["URI"]
    if not uri.startswith("http://"):
        return "destination URI must be http://sandbox.localdomain:<port>/..."
    hostport, _, path = uri[len("http://") :].partition("/")
    host, _, port = hostport.rpartition(":")
    if host not in ("sandbox.localdomain", "sandbox", "localhost", "127.0.0.1", "0.0.0.0") or not port.isdigit():
        return "destination URI must be http://sandbox.localdomain:<port>/..."
    buffering = doc.get("buffering") or {}
    if not isinstance(buffering, dict):
        return "buffering must be an object"
    values = {"maxItems": DEFAULT_MAX_ITEMS, "maxBytes": DEFAULT_MAX_BYTES, "timeoutMs": DEFAULT_TIMEOUT_MS}
    for key, (lo, hi) in _BUFFERING_LIMITS.items():
        v = buffering.get(key, values[key])
        if not isinstance(v, int) or not lo <= v <= hi:
            return f"buffering.{key} must be between {lo} and {hi}"
        values[key] = v
    return TelemetrySubscription(
        frozenset(types), int(port), "/" + path,
        max_items=values["maxItems"], max_bytes=values["maxBytes"], timeout_ms=values["timeoutMs"],
    )
