"""Invoker: the one path to running function code.

Every caller (Invoke, HTTP triggers, Firehose transforms, event source mappings, the async queue)
calls ``Invoker.invoke(spec, payload, ...)``. It admits the call against the concurrency limits
(reserved concurrency, else the account pool shared by the unreserved functions, as AWS counts
them), takes a warm environment from the function's pool or starts one (fork from a zygote for
Python, spawn otherwise), runs the invocation and returns AWS's outcome as an ``InvocationResult``.
Function errors of every kind (exception, timeout, crash, memory, init) are results with
``function_error="Unhandled"``, never exceptions; only throttling raises (``TooManyRequests``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nimbus.clock import Clock, SystemClock
from nimbus.config import Settings
from nimbus.credentials import Credentials
from nimbus.errors import ServiceError
from nimbus.runtime import sandbox
from nimbus.runtime.environment import Environment, InvocationResult, ResponseStream
from nimbus.runtime.extensions import EXTENSIONS_DIR, SHUTDOWN_GRACE_S, ExtensionHub, find_extensions, wrap_argv
from nimbus.runtime.launcher import (
    NODE_BOOTSTRAP,
    PROVIDED_RUNTIMES,
    LaunchRequest,
    environment_variables,
    is_node,
    python_opt_path,
    python_version_of,
    resolve_runtime,
    spawn,
)
from nimbus.runtime.output import LogSink
from nimbus.runtime.pool import EnvironmentPool, PoolKey
from nimbus.runtime.zygote import RUNTIME_DIR, Zygote, ZygoteError

log = logging.getLogger(__name__)

PROVISION_BATCH = 4  # provisioned environments started at once (a burst of forks on a small machine)
CREDENTIALS_TTL_S = 12 * 3600.0  # an environment's scoped keys; it is retired before they expire

__all__ = ["FunctionSpec", "InvocationResult", "Invoker", "LogSink", "TooManyRequests"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    function_name: str
    function_arn: str  # unqualified
    version: str  # "$LATEST" or "1"
    runtime: str  # "python3.8".."python3.13", "provided.al2", "provided.al2023"
    handler: str  # "lambda_function.lambda_handler" (ignored for provided.*)
    code_dir: Path  # already-extracted code (read-only for us)
    layer_dirs: tuple[Path, ...]  # already-extracted layers, merged under /opt in order
    memory_mb: int
    timeout_s: float
    ephemeral_storage_mb: int
    environment: Mapping[str, str]
    region: str
    account_id: str
    log_group: str  # "/aws/lambda/<name>"
    config_key: str  # changes whenever code/config changes: never reuse an env across config_key
    reserved_concurrency: int | None = None
    role_arn: str = ""  # the execution role: its keys' session is "assumed-role/<role name>/<function name>"
    log_format: str = "Text"  # LoggingConfig: "Text" or "JSON"
    application_log_level: str | None = None  # JSON only: AWS_LAMBDA_LOG_LEVEL for the runtime's logger
    system_log_level: str | None = None  # JSON only: WARN hides the INFO platform events


def session_principal(spec: FunctionSpec) -> str:
    """Whom an environment's keys speak for, as AWS names a function's role session (STS
    GetCallerIdentity inside a function answers ``arn:aws:sts::<account>:assumed-role/<role>/<function>``)."""
    role = spec.role_arn.rsplit("/", 1)[-1] if spec.role_arn else "nimbus-function"
    return f"assumed-role/{role}/{spec.function_name}"


class TooManyRequests(ServiceError):
    """The concurrency limit is reached (aws-contracts C.1: 429, Reason says which limit)."""

    code = "TooManyRequestsException"
    status = 429


class Invoker:
    def __init__(
        self,
        *,
        endpoint_url: str,
        credentials_issuer: Callable[[str, float], Credentials],
        log_sink: LogSink,
        settings: Settings,
        clock: Clock | None = None,
        use_zygote: bool = True,
        credentials_revoker: Callable[[str], None] | None = None,
        credentials_ttl_s: float = CREDENTIALS_TTL_S,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.credentials_issuer = credentials_issuer
        self.credentials_revoker = credentials_revoker
        self.credentials_ttl_s = credentials_ttl_s
        self.log_sink = log_sink
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.use_zygote = use_zygote
        self.sandbox_mode = sandbox.sandbox_mode(settings.sandbox)
        self.cgroups = sandbox.MemoryCgroups.detect()
        self._pools: dict[PoolKey, EnvironmentPool] = {}
        self._zygotes: dict[tuple[str, bool], Zygote] = {}
        self._runtimes: dict[str, tuple[str, str]] = {}
        self._roots: dict[str, list[str]] = {}
        self._inflight: dict[str, int] = {}
        self._unreserved_inflight = 0
        self._reserved: dict[str, int] = {}
        self._reserved_total = 0
        self._reaper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # provisioned environments being replaced
        self._closed = False
        self._layer_cache = Path(settings.data_dir) / "runtime" / "layers"

    # -- public ------------------------------------------------------------------------------------
    async def start(self, runtimes: tuple[str, ...] = ("python3.12",)) -> None:
        """Optional warm-up: resolve runtimes and start their zygotes now rather than on first use."""
        for rt in runtimes:
            python, _ = await self._resolve(rt)
            if python and self.use_zygote:
                await self._zygote(python).ensure_started()

    async def resolve(self, runtime: str) -> tuple[str, str]:
        """``resolve_runtime`` without blocking the loop: (interpreter path, substitution note)."""
        return await self._resolve(runtime)

    async def invoke(
        self,
        spec: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tail: bool = False,
        invoked_function_arn: str | None = None,
        stream: ResponseStream | None = None,
    ) -> InvocationResult:
        fn = spec.function_arn
        reserved = spec.reserved_concurrency
        if self._reserved.get(fn) != reserved:
            self._set_reserved(fn, reserved)
        inflight = self._inflight.get(fn, 0)
        if reserved is not None:
            if inflight >= reserved:
                raise TooManyRequests("Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded", Type="User")
        elif self._unreserved_inflight >= self.settings.account_concurrency - self._reserved_total:
            raise TooManyRequests("Rate Exceeded.", Reason="ConcurrentInvocationLimitExceeded", Type="User")
        counted_unreserved = reserved is None
        self._inflight[fn] = inflight + 1
        if counted_unreserved:
            self._unreserved_inflight += 1
        try:
            if self._reaper is None:
                self._reaper = asyncio.get_running_loop().create_task(self._reap_loop())
            key = (fn, spec.version, spec.config_key)
            pool = self._pools.get(key)
            if pool is None:
                pool = self._new_pool(key, spec)
            env = await pool.acquire()
            try:
                if invoked_function_arn is None:
                    invoked_function_arn = fn if spec.version == "$LATEST" else f"{fn}:{spec.version}"
                return await env.invoke(
                    request_id or str(uuid.uuid4()),
                    payload,
                    invoked_arn=invoked_function_arn,
                    client_context=client_context,
                    cognito_identity=cognito_identity,
                    tail=tail,
                    stream=stream,
                )
            finally:
                pool.release(env)
        finally:
            self._inflight[fn] -= 1
            if counted_unreserved:
                self._unreserved_inflight -= 1

    def invalidate(self, function_arn_prefix: str) -> None:
        """Drop the environments of matching functions (code/config changed, function deleted). Pools
        that keep provisioned environments stay: they belong to published versions, which never change,
        and ``unprovision`` drops them when their configuration goes."""
        for key in [k for k in self._pools if k[0].startswith(function_arn_prefix)]:
            if not self._pools[key].targets:
                self._pools.pop(key).invalidate()

    async def provision(self, spec: FunctionSpec, owner: str, count: int) -> tuple[int, str | None]:
        """Provisioned concurrency: keep ``count`` initialised environments of ``spec`` for ``owner`` (a
        version's or alias's configuration), starting the missing ones now. Answers (how many are ready,
        why the last start failed or None). Other owners of the same version keep theirs."""
        key = (spec.function_arn, spec.version, spec.config_key)
        for other_key, other in list(self._pools.items()):  # the owner moved (an alias now names another version)
            if other_key != key and owner in other.targets:
                self._drop_target(other_key, other, owner)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._new_pool(key, spec)
        pool.targets[owner] = count
        pool.failure = None
        pool.trim_provisioned()
        self._ensure_reaper()
        return await self._top_up(pool, spec)

    def unprovision(self, owner: str) -> None:
        """``owner``'s provisioned environments are no longer kept (its configuration was deleted)."""
        for key, pool in list(self._pools.items()):
            if owner in pool.targets:
                self._drop_target(key, pool, owner)

    def provisioned_ready(self, owner: str) -> int:
        """How many provisioned environments serve ``owner`` now (shared among a version's owners in order)."""
        for pool in self._pools.values():
            if owner in pool.targets:
                alive = pool.provisioned_alive()
                for other, n in pool.targets.items():
                    if other == owner:
                        return min(n, alive)
                    alive = max(0, alive - n)
        return 0

    async def aclose(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            try:
                await self._reaper
            except (asyncio.CancelledError, Exception):
                pass
            self._reaper = None
        envs = [env for pool in self._pools.values() for env in (*pool.idle, *pool.busy)]
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        stopping = [env.shutdown_done for env in envs if env.shutdown_done is not None and not env.shutdown_done.done()]
        if stopping:  # external extensions finishing their SHUTDOWN
            await asyncio.wait(stopping, timeout=SHUTDOWN_GRACE_S + 0.5)
        await asyncio.sleep(0.05)  # let exit notices arrive so cgroups can be removed
        for z in self._zygotes.values():
            z.close()
        self._zygotes.clear()
        self.cgroups.close()

    def stats(self) -> dict[str, int]:
        """Environment counts (for metrics and tests)."""
        return {
            "pools": len(self._pools),
            "idle": sum(len(p.idle) for p in self._pools.values()),
            "busy": sum(len(p.busy) for p in self._pools.values()),
        }

    # -- internals ---------------------------------------------------------------------------------
    def _set_reserved(self, fn: str, reserved: int | None) -> None:
        if reserved is None:
            self._reserved.pop(fn, None)
        else:
            self._reserved[fn] = reserved
        self._reserved_total = sum(self._reserved.values())

    def _new_pool(self, key: PoolKey, spec: FunctionSpec) -> EnvironmentPool:
        targets: dict[str, int] = {}
        for other in [k for k in self._pools if k[0] == key[0] and k[1] == key[1]]:
            old = self._pools.pop(other)  # a new config_key: the old environments are stale
            targets.update(old.targets)  # ... but what is provisioned stays provisioned, on the new ones
            old.invalidate()

        async def start() -> Environment:
            return await self._start_env(spec)

        pool = self._pools[key] = EnvironmentPool(key, start)
        pool.targets = targets
        pool.spec = spec
        return pool

    def _drop_target(self, key: PoolKey, pool: EnvironmentPool, owner: str) -> None:
        pool.targets.pop(owner, None)
        if pool.targets:
            pool.trim_provisioned()
        else:
            self._pools.pop(key, None)
            pool.invalidate()  # idle ones stop now, busy ones after their invocation

    async def _top_up(self, pool: EnvironmentPool, spec: FunctionSpec) -> tuple[int, str | None]:
        """Start provisioned environments until the pool holds its target; (ready count, last failure)."""
        while pool.topping_up is not None:  # one at a time; then see what is still missing
            await asyncio.shield(pool.topping_up)
        fut: asyncio.Future[tuple[int, str | None]] = asyncio.get_running_loop().create_future()
        pool.topping_up = fut
        failure: str | None = None
        try:
            while not pool.invalid and not self._closed:
                missing = pool.provisioned - pool.provisioned_alive() - pool.starting
                if missing <= 0:
                    break
                batch = min(missing, PROVISION_BATCH)
                pool.starting += batch
                try:
                    started = await asyncio.gather(*(self._start_env(spec, provisioned=True) for _ in range(batch)), return_exceptions=True)
                    envs = [env for env in started if isinstance(env, Environment)]
                    reasons = await asyncio.gather(*(env.wait_ready() for env in envs))
                finally:
                    pool.starting -= batch
                for env, reason in zip(envs, reasons):
                    if reason is None:
                        pool.add(env)
                    else:
                        env.stop()
                        failure = reason
                for exc in started:
                    if isinstance(exc, BaseException):
                        failure = str(exc) or type(exc).__name__
                if failure is not None:
                    break
        except Exception as e:  # noqa: BLE001 - reported as the configuration's failure
            log.warning("provisioning failed function=%s err=%s", spec.function_arn, e)
            failure = str(e) or type(e).__name__
        result = (pool.provisioned_alive(), failure)
        pool.failure = failure
        pool.topping_up = None
        fut.set_result(result)
        return result

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_loop())

    async def _reap_loop(self) -> None:
        idle_s = self.settings.idle_env_seconds
        period = min(max(idle_s / 4, 0.05), 10.0)
        while not self._closed:
            await self.clock.sleep(period)
            now = self.clock.monotonic()
            for key, pool in list(self._pools.items()):
                pool.reap(now, idle_s)
                if pool.size == 0 and pool.invalid:
                    self._pools.pop(key, None)
                elif pool.targets and pool.topping_up is None and pool.failure is None and pool.provisioned_alive() + pool.starting < pool.provisioned:
                    # a provisioned environment died or retired: replace it
                    task = asyncio.get_running_loop().create_task(self._top_up(pool, pool.spec))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    def _revoke(self, env: Environment) -> None:
        """A stopped environment's keys stop working at once (not at their expiry)."""
        if env.access_key_id and self.credentials_revoker is not None:
            self.credentials_revoker(env.access_key_id)
            env.access_key_id = None

    async def _resolve(self, runtime: str) -> tuple[str, str]:
        hit = self._runtimes.get(runtime)
        if hit is None:
            hit = self._runtimes[runtime] = await asyncio.to_thread(resolve_runtime, runtime)
            if hit[0] and not is_node(runtime):
                await asyncio.to_thread(python_version_of, hit[0])
        return hit

    def _zygote(self, python: str) -> Zygote:
        sandboxed = self.sandbox_mode == "bwrap"
        z = self._zygotes.get((python, sandboxed))
        if z is None:
            z = self._zygotes[(python, sandboxed)] = Zygote(python, sandboxed=sandboxed)
        return z

    async def _python_roots(self, python: str) -> list[str]:
        r = self._roots.get(python)
        if r is None:
            r = self._roots[python] = await asyncio.to_thread(sandbox.python_roots, python)
        return r

    async def _start_env(self, spec: FunctionSpec, *, provisioned: bool = False) -> Environment:
        python, note = await self._resolve(spec.runtime)
        boxed = self.sandbox_mode == "bwrap"
        env = Environment(
            function_arn=spec.function_arn,
            version=spec.version,
            memory_mb=spec.memory_mb,
            timeout_s=spec.timeout_s,
            log_group=spec.log_group,
            sink=self.log_sink,
            clock=self.clock,
            cgroup=None,
            on_release=self._revoke,
        )
        env.note = note
        env.provisioned = provisioned
        env.json_logs = spec.log_format == "JSON"
        env.platform_logs = spec.system_log_level not in ("WARN",)
        env.cgroup = self.cgroups.create(env.id, spec.memory_mb * 1024 * 1024)
        await env.prepare()
        try:
            await self._launch(env, spec, python, boxed)
        except Exception as e:  # noqa: BLE001  (a launch failure is this invocation's error)
            log.warning("environment launch failed function=%s err=%s", spec.function_arn, e)
            env.fail_launch(f"Nimbus could not start the environment: {e}")
        return env

    async def _launch(self, env: Environment, spec: FunctionSpec, python: str, boxed: bool) -> None:
        code_dir = Path(spec.code_dir).resolve()
        layers = tuple(Path(p) for p in spec.layer_dirs)
        opt_dir = await asyncio.to_thread(sandbox.merge_layers, layers, self._layer_cache) if len(layers) > 1 else (
            layers[0] if layers else None
        )
        opt_dir = opt_dir.resolve() if opt_dir is not None else None
        creds = self.credentials_issuer(session_principal(spec), self.credentials_ttl_s)
        env.access_key_id = creds.access_key_id
        env.credentials_expire_at = creds.expires_at
        node = is_node(spec.runtime)
        pass_fds: tuple[int, ...] = ()
        ext_names = find_extensions(opt_dir)
        if ext_names:
            # external extensions: started by a wrapper in the runtime's sandbox, before it (never forked
            # from the zygote: the wrapper is the process, and its children share the sandbox)
            hub = ExtensionHub(
                ext_names, env, function_name=spec.function_name, version=spec.version, handler=spec.handler, account_id=spec.account_id
            )
            pass_fds = env.use_extensions(hub)
        if boxed:
            task_root, opt_root, tmpdir, runtime_dir = sandbox.TASK_ROOT, sandbox.OPT_ROOT, None, RUNTIME_DIR
        else:
            task_root = str(code_dir)
            opt_root = str(opt_dir) if opt_dir is not None else None
            tmpdir = env.tmpdir = tempfile.mkdtemp(prefix=f"nimbus-env-{env.id[:12]}-")
            runtime_dir = str(Path(python).parent) if python else str(code_dir)
        if node:
            runtime_dir = str(NODE_BOOTSTRAP.parent)  # shown at its own path inside the sandbox
        minor = python_version_of(python)[1] if python and not node else None
        variables = environment_variables(
            function_name=spec.function_name,
            version=spec.version,
            memory_mb=spec.memory_mb,
            runtime=spec.runtime,
            handler=spec.handler,
            region=spec.region,
            log_group=spec.log_group,
            log_stream=env.log_stream,
            runtime_api=env.runtime_api,
            endpoint_url=self.endpoint_url,
            access_key_id=creds.access_key_id,
            secret_access_key=creds.secret_access_key,
            session_token=creds.session_token,
            task_root=task_root,
            runtime_dir=runtime_dir,
            opt_root=opt_root,
            python_minor=minor,
            tmpdir=tmpdir,
            user=spec.environment,
            path_dirs=[str(Path(python).parent)] if python else [],
            initialization_type="provisioned-concurrency" if env.provisioned else "on-demand",
            log_format=spec.log_format,
            log_level=spec.application_log_level if spec.log_format == "JSON" else None,
        )
        cg_procs = str(env.cgroup.path / "cgroup.procs") if env.cgroup is not None else None
        ext_dir = f"{opt_root or sandbox.OPT_ROOT}/{EXTENSIONS_DIR}"

        def wrap(argv: list[str]) -> list[str]:
            if not pass_fds:
                return argv
            return wrap_argv(argv, extensions_dir=ext_dir)

        def launched(req: LaunchRequest) -> None:
            try:
                proc = spawn(req, via_bwrap=boxed)
            finally:
                env.close_child_fds()  # the process holds them now (else the environment's release closes them)
            env.attach(proc)
        if node:  # Node.js: our Runtime API client (runtime/node/bootstrap.mjs) loads the handler
            argv = wrap([python, str(NODE_BOOTSTRAP)])
            if boxed:
                roots = [str(NODE_BOOTSTRAP.parent)]
                if not python.startswith(("/usr/", "/bin/")):
                    roots.append(str(Path(os.path.realpath(python)).parent.parent))
                argv = sandbox.bwrap_env_argv(code_dir=code_dir, opt_dir=opt_dir, tmp_mb=spec.ephemeral_storage_mb, roots=roots, argv=argv)
            req = LaunchRequest(argv=argv, env=variables, cwd=str(code_dir), out_fd=env.out_fd, cgroup_procs=cg_procs, pass_fds=pass_fds)
            launched(req)
            return
        if spec.runtime in PROVIDED_RUNTIMES or not python:
            bootstrap = _find_bootstrap(code_dir, opt_dir)
            if bootstrap is None:
                where = "[/var/task/bootstrap /opt/bootstrap]"
                env.on_init_error(
                    "Runtime.InvalidEntrypoint",
                    f'{{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"Couldn\'t find valid bootstrap(s): {where}"}}'.encode(),
                )
                env.fail_launch("no bootstrap")
                return
            if boxed:
                inside = f"{sandbox.TASK_ROOT}/bootstrap" if bootstrap.parent == code_dir else f"{sandbox.OPT_ROOT}/bootstrap"
                argv = sandbox.bwrap_env_argv(
                    code_dir=code_dir, opt_dir=opt_dir, tmp_mb=spec.ephemeral_storage_mb, roots=[], argv=wrap([inside])
                )
            else:
                argv = wrap([str(bootstrap)])
            req = LaunchRequest(argv=argv, env=variables, cwd=str(code_dir), out_fd=env.out_fd, cgroup_procs=cg_procs, pass_fds=pass_fds)
            launched(req)
            return
        sys_path = [task_root, *python_opt_path(opt_root or sandbox.OPT_ROOT, minor or 0)] if (opt_root or boxed) else [task_root]
        if self.use_zygote and not pass_fds:
            z = self._zygote(python)
            try:
                await z.ensure_started()
                if not _shadows(code_dir, opt_dir, z.preloaded):
                    req = LaunchRequest(
                        argv=[],
                        env=variables,
                        cwd=task_root,
                        out_fd=env.out_fd,
                        cgroup_procs=cg_procs,
                        handler=spec.handler,
                        sys_path=sys_path,
                        sandbox=(
                            {"code": str(code_dir), "opt": str(opt_dir) if opt_dir else None, "tmp_mb": spec.ephemeral_storage_mb}
                            if boxed
                            else None
                        ),
                    )
                    env.attach(await z.fork(req))
                    return
            except (ZygoteError, OSError, asyncio.TimeoutError) as e:
                log.warning("zygote unavailable, spawning python=%s err=%s", python, e)
        argv = wrap([python, "-m", "awslambdaric", spec.handler])
        if boxed:
            argv = sandbox.bwrap_env_argv(
                code_dir=code_dir,
                opt_dir=opt_dir,
                tmp_mb=spec.ephemeral_storage_mb,
                roots=await self._python_roots(python),
                argv=argv,
            )
        req = LaunchRequest(argv=argv, env=variables, cwd=str(code_dir), out_fd=env.out_fd, cgroup_procs=cg_procs, pass_fds=pass_fds)
        launched(req)


def _find_bootstrap(code_dir: Path, opt_dir: Path | None) -> Path | None:
    for d in (code_dir, opt_dir):
        if d is not None:
            p = d / "bootstrap"
            if p.is_file() and os.access(p, os.X_OK):
                return p
    return None


def _shadows(code_dir: Path, opt_dir: Path | None, preloaded: frozenset[str]) -> bool:
    """Does the zip or a layer carry its own copy of a module the zygote already imported?

    AWS puts /var/task and /opt/python before the runtime's boto3; a forked child would keep the
    zygote's copy, so such functions are spawned instead.
    """
    dirs = [code_dir]
    if opt_dir is not None:
        dirs.append(opt_dir / "python")
        dirs += list((opt_dir / "python" / "lib").glob("python3*/site-packages"))
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            top = n.split(".", 1)[0]
            if top in preloaded:
                return True
    return False
