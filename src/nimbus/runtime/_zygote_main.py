"""Zygote program: a warm Python that forks execution environments on request.

Run as a script by the target interpreter (stdlib only, Python 3.8+; it does not import nimbus). It
imports awslambdaric, boto3 and botocore, warms boto3's default session with the models functions use
most (and one throwaway client of each, see ``_warm_clients``), freezes the heap, then serves fork
requests on an inherited SOCK_SEQPACKET socket (fd in argv[1]):

    request  {"seq", "env", "cwd", "path", "handler", "sandbox"} + the output pipe fd (SCM_RIGHTS)
    replies  {"seq", "pid", "worker"} | {"seq", "error"};  unsolicited {"exit": pid, "status": wait_status}

The fork happens ahead of the request: one *spare* environment waits, already forked, namespaced and
pre-touched; a request is handed to it and the next spare is forked while the environment starts.
When sandboxed, a spare is an init (PID 1 of a new PID namespace, cloned with CLONE_NEWPID) and its
worker (PID 2): "pid" is the init (signal it and the namespace ends), "worker" the function's
process. The init reports the worker's exit status itself, then exits.

The worker applies its request after receiving it: stdout/stderr onto its pipe, the mount sandbox
(code, layers, /tmp; the host view detached; no capabilities, non-dumpable), the AWS variables, cwd
and sys.path; then it loads awslambdaric's native runtime client, whose endpoint is read once from
AWS_LAMBDA_RUNTIME_API when the library is loaded (so only there), and runs awslambdaric's loop.
With NIMBUS_ZYGOTE_TRACE set in a function's variables, the worker logs its phase timestamps.
"""

import gc
import json
import os
import selectors
import signal
import socket
import sys
import traceback

PRELOAD_SERVICES = ("s3", "firehose", "kinesis", "lambda", "sqs", "sns", "dynamodb", "sts", "logs", "events")
HOST_VIEW = "/.nimbus-host"
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
_TRACE = []  # (phase, perf_counter) in an environment, printed when NIMBUS_ZYGOTE_TRACE is set


def _mark(phase):
    import time

    _TRACE.append((phase, time.perf_counter()))


def _preload():
    sys.modules["runtime_client"] = None  # type: ignore[assignment]  # keep the native client for the child
    import awslambdaric.__main__  # noqa: F401
    import awslambdaric.bootstrap  # noqa: F401
    import awslambdaric.lambda_context  # noqa: F401
    import awslambdaric.lambda_runtime_marshaller  # noqa: F401

    # The native client reads AWS_LAMBDA_RUNTIME_API in a static initialiser when the library is
    # loaded, so it must not even be dlopen'ed here: each child loads it after setting its variables.
    del sys.modules["runtime_client"]
    import http.client  # noqa: F401  (awslambdaric posts init errors with it)
    import logging  # noqa: F401
    import uuid  # noqa: F401
    import decimal  # noqa: F401

    try:
        import boto3
        import botocore.session  # noqa: F401
        import botocore.client  # noqa: F401
        import botocore.endpoint  # noqa: F401
        import botocore.regions  # noqa: F401
        import botocore.parsers  # noqa: F401
        import botocore.serialize  # noqa: F401
        import botocore.retries.standard  # noqa: F401
        import botocore.httpsession  # noqa: F401
        import botocore.auth  # noqa: F401

        boto3.setup_default_session()
        loader = boto3.DEFAULT_SESSION._session.get_component("data_loader")  # type: ignore[union-attr]
        for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
            try:
                loader.load_data(name)
            except Exception:
                pass
        for svc in PRELOAD_SERVICES:
            for kind in ("service-2", "endpoint-rule-set-1"):
                try:
                    loader.load_service_model(svc, kind)
                except Exception:
                    pass
        _warm_clients()
    except ImportError:
        pass
    try:
        # awslambdaric's native client links libstdc++ (about 1 ms to load): load it now; the client
        # itself must wait for the child (see above)
        import ctypes

        ctypes.CDLL("libstdc++.so.6", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass


_DUMMY = {"aws_access_key_id": "NIMBUSZYGOTE", "aws_secret_access_key": "zygote", "endpoint_url": "http://127.0.0.1:9"}


def _warm_clients():
    """Create and discard a client per common service, so that what client creation fills lazily
    (botocore's model, endpoint-ruleset and partition caches, regex and SSL caches, class
    attributes) is already in the heap every environment inherits. Credentials, region and endpoint
    are explicit, so nothing read from our environment is kept; ``_scrub_session`` forgets the rest."""
    import boto3
    from botocore.credentials import create_credential_resolver

    session = boto3.DEFAULT_SESSION
    for svc in PRELOAD_SERVICES:
        try:
            session.client(svc, region_name="us-east-1", **_DUMMY)
        except Exception:
            pass
    try:
        create_credential_resolver(session._session)  # builds (and drops) the default provider chain
    except Exception:
        pass
    _scrub_session()


def _scrub_session():
    """Forget what boto3's default session cached from the process environment or config files."""
    try:
        import boto3

        bs = boto3.DEFAULT_SESSION._session
    except Exception:
        return
    bs._config = None
    bs._profile_map = None
    bs._profile = None
    bs._credentials = None
    bs._auth_token = None
    bs._last_client_region_used = None
    bs._client_config = None
    bs._internal_components.lazy_register_component("monitor", bs._create_csm_monitor)  # csm_* settings
    bs._components.lazy_register_component("credential_provider", bs._create_credential_resolver)
    bs._components.lazy_register_component("token_provider", bs._create_token_resolver)


def _pretouch():
    """In a spare, before its request: run one client creation so the pages it writes (reference
    counts, caches) are copied now rather than during the function's init."""
    try:
        import boto3
        from botocore.credentials import create_credential_resolver

        boto3.DEFAULT_SESSION.client("sts", region_name="us-east-1", **_DUMMY)
        create_credential_resolver(boto3.DEFAULT_SESSION._session)
        _scrub_session()
    except Exception:
        pass


def _adopt_environment():
    """In the child, after its variables are set: what boto3's session read from the environment
    when it was created (the user agent's execution environment)."""
    try:
        import boto3
        from botocore.useragent import UserAgentString

        boto3.DEFAULT_SESSION._session._components.register_component("user_agent_creator", UserAgentString.from_environment())
    except Exception:
        pass


def _third_party_modules():
    names = set()
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None) or ""
        if "site-packages" in f or "dist-packages" in f:
            names.add(name.split(".", 1)[0])
    return sorted(names)


def _send(sock, msg):
    sock.send(json.dumps(msg).encode())


class _Spare:
    """A pre-forked environment waiting for its request (the fork is off the critical path).

    With PID namespaces: ``init`` is PID 1 of a fresh namespace (forked after unshare(CLONE_NEWPID)),
    ``worker`` its child that will run the function; without: one process, both roles.
    """

    def __init__(self, init, worker, sock):
        self.init = init
        self.worker = worker
        self.sock = sock

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    ctl = socket.socket(fileno=int(sys.argv[1]))
    _preload()
    base_path = [p for p in sys.path if p and p != os.path.dirname(os.path.abspath(__file__))]
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()
    _prctl(1, 9)  # PR_SET_PDEATHSIG SIGKILL: die with the server (or with bwrap)
    sandboxed = os.environ.get("NIMBUS_ZYGOTE_SANDBOX") == "1"
    if sandboxed:
        _prctl(4, 0)  # PR_SET_DUMPABLE 0: children may not peek at our /proc entries
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    os.set_blocking(rfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pidns = sandboxed and _clone_syscall() is not None
    state = {"spare": None}

    def make_spare():
        try:
            state["spare"] = _make_spare(ctl, (rfd, wfd), base_path, sandboxed, pidns)
        except OSError:
            state["spare"] = None

    make_spare()
    _send(ctl, {"ready": True, "version": "%d.%d.%d" % sys.version_info[:3], "preloaded": _third_party_modules(), "pidns": pidns})
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ, "ctl")
    sel.register(rfd, selectors.EVENT_READ, "sig")
    while True:
        for key, _ in sel.select():
            if key.data == "sig":
                try:
                    os.read(rfd, 4096)
                except BlockingIOError:
                    pass
                _reap(ctl, state)
                continue
            try:
                msg, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 4)
            except (BlockingIOError, InterruptedError):
                continue
            if not msg:
                os._exit(0)  # the server went away
            seq = json.loads(msg)["seq"]
            out_fd = fds[0] if fds else -1
            reply = {"seq": seq, "error": "fork failed"}
            for _attempt in range(2):
                spare, state["spare"] = state["spare"], None
                if spare is None:
                    make_spare()
                    spare, state["spare"] = state["spare"], None
                    if spare is None:
                        continue
                try:
                    socket.send_fds(spare.sock, [msg], [out_fd] if out_fd >= 0 else [])
                except OSError as e:
                    reply["error"] = str(e)
                    spare.close()
                    continue
                spare.close()
                reply = {"seq": seq, "pid": spare.init, "worker": spare.worker}
                break
            if out_fd >= 0:
                os.close(out_fd)
            _send(ctl, reply)
            make_spare()  # the next one, forked while this environment initialises


def _clone_syscall():
    import platform

    return {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120, "s390x": 120}.get(platform.machine())


def _fork_newpid():
    """fork() into a new PID namespace: clone(CLONE_NEWPID | SIGCHLD) with fork's semantics.

    unshare(CLONE_NEWPID) would work once per process only (the zygote's next children would all
    share that namespace); clone's flag applies to this one child. Python has no os.clone, so the
    raw system call is made with the GIL held (PyDLL) between CPython's own before/after-fork hooks,
    as os.fork does. The child (our init) only forks, waits and exits: glibc's cached thread id
    left stale by the raw call is never used (its worker is forked normally).
    """
    import ctypes

    nr = _clone_syscall()
    libc = ctypes.PyDLL(None, use_errno=True)
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = libc.syscall(ctypes.c_long(nr), ctypes.c_ulong(CLONE_NEWPID | signal.SIGCHLD), ctypes.c_void_p(0),
                       ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, "clone(CLONE_NEWPID): " + os.strerror(err))
    return pid


def _make_spare(ctl, zygote_fds, base_path, sandboxed, pidns):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = -1
    if pidns:
        try:
            pid = _fork_newpid()  # the child is PID 1 of a fresh namespace
        except OSError:
            pidns = False
    if pid < 0:
        pid = os.fork()
    if pid == 0:
        code = 127
        try:
            ours.close()
            for fd in zygote_fds:
                os.close(fd)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            _prctl(1, 9)  # PR_SET_PDEATHSIG: die with the zygote
            if pidns:
                code = _init(ctl, theirs, base_path, sandboxed)
            else:
                ctl.close()
                code = _worker(theirs, base_path, sandboxed, pidns=False)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    theirs.close()
    if not pidns:
        return _Spare(pid, pid, ours)
    ours.settimeout(10)
    try:
        hello = json.loads(ours.recv(4096) or b"{}")  # the init reports its worker's pid as we see it
    except (OSError, ValueError):
        hello = {}
    if "worker" not in hello:
        ours.close()
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        raise OSError("spare environment did not start")
    ours.settimeout(None)
    return _Spare(pid, int(hello["worker"]), ours)


def _init(ctl, sock, base_path, sandboxed):
    """PID 1 of an environment's PID namespace: start the worker, reap orphans, report the worker's
    exit status to the server (as the worker's own, not 128+signal), then exit (which ends the
    namespace: whatever the function left running is killed)."""
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: the function may not ptrace us or read our /proc entries
    worker = os.fork()
    if worker == 0:
        ctl.close()
        return _worker(sock, base_path, sandboxed, pidns=True)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)  # (PID 1 ignores unhandled signals from its namespace anyway)
    me = int(os.readlink("/proc/self"))  # the zygote's /proc: pids as the server sees them
    try:
        with open("/proc/%d/task/%d/children" % (me, me)) as f:
            host_worker = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        host_worker = me
    sock.send(json.dumps({"worker": host_worker}).encode())
    sock.close()
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == worker:
            break
    try:
        ctl.send(json.dumps({"exit": me, "status": status}).encode())
    except OSError:
        pass
    return 0


def _worker(sock, base_path, sandboxed, *, pidns):
    """The process that will run the function: get ready, wait for the request, become it."""
    _prctl(1, 9)  # PR_SET_PDEATHSIG: die with our parent
    if sandboxed:
        _sandbox_early(pidns)
    _pretouch()
    try:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
    except OSError:
        return 0
    sock.close()
    if not msg:
        return 0
    return _child(json.loads(msg), fds[0] if fds else -1, base_path)


def _reap(ctl, state):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        spare = state["spare"]
        if spare is not None and spare.init == pid:  # a spare died before use: make another next time
            spare.close()
            state["spare"] = None
            continue
        _send(ctl, {"exit": pid, "status": status})


_libc = None


def _lib():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _prctl(option, arg2, arg3=0):
    import ctypes

    r = _lib().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if r != 0:
        raise OSError(ctypes.get_errno(), "prctl(%d) failed" % option)


def _mount(src, target, fstype, flags, data=None):
    import ctypes

    r = _lib().mount(
        src.encode() if src else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, "mount %s on %s: %s" % (src, target, os.strerror(e)))


def _roots_under_tmp():
    """Interpreter prefixes and import-path entries that live under /tmp, outermost only."""
    import sys

    found = []
    for p in sorted({sys.prefix, sys.base_prefix, *[q for q in sys.path if q]}):
        p = os.path.realpath(p)
        if p.startswith("/tmp/") and os.path.isdir(HOST_VIEW + p) and not any(p.startswith(f + "/") or p == f for f in found):
            found.append(p)
    return found


def _sandbox_early(pidns):
    """Before the request: a private mount namespace, and a /proc showing only this PID namespace."""
    import ctypes

    libc = _lib()
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if pidns:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _sandbox(spec):
    """Show only this function's code, layers and /tmp; drop the host view and every capability."""
    import ctypes
    import struct

    libc = _lib()
    for host, target in ((spec["code"], "/var/task"), (spec.get("opt"), "/opt")):
        if host:
            _mount(HOST_VIEW + host, target, None, MS_BIND | MS_REC)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=%dm,mode=1777" % int(spec["tmp_mb"]))
    for d in _roots_under_tmp():
        # the interpreter and its packages may live under /tmp (e.g. a checkout there): keep them visible
        os.makedirs(d, exist_ok=True)
        _mount(HOST_VIEW + d, d, None, MS_BIND | MS_REC)
        _mount(None, d, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if libc.umount2(HOST_VIEW.encode(), 2) != 0:  # MNT_DETACH
        raise OSError(ctypes.get_errno(), "umount " + HOST_VIEW)
    _prctl(4, 0)  # PR_SET_DUMPABLE: others may not open our /proc/<pid>/{root,environ,mem}
    for cap in range(64):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            break
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    hdr = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))
    data = ctypes.create_string_buffer(24)  # two zeroed __user_cap_data_struct
    if libc.capset(hdr, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    _prctl(38, 1)  # PR_SET_NO_NEW_PRIVS


def _child(req, out_fd, base_path):
    _mark("request")
    if out_fd >= 0:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if req.get("sandbox"):
        _sandbox(req["sandbox"])
    _mark("sandbox")
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    os.umask(0o022)
    sys.path[:] = list(req["path"]) + base_path
    sys.argv[:] = ["awslambdaric", req["handler"]]
    import time

    time.tzset()
    import importlib

    importlib.invalidate_caches()
    _adopt_environment()
    _mark("environment")
    import runtime_client  # type: ignore[import-not-found]
    from awslambdaric import lambda_runtime_client

    runtime_client.initialize_client(lambda_runtime_client._user_agent())
    lambda_runtime_client.runtime_client = runtime_client
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "Text") != "Text" or os.environ.get("AWS_LAMBDA_LOG_LEVEL"):
        import awslambdaric.bootstrap

        importlib.reload(awslambdaric.bootstrap)  # it reads the log format and level at import
    from awslambdaric import bootstrap
    from awslambdaric.lambda_config import LambdaConfigProvider

    # awslambdaric.__main__.main, with one change: python3.12+ poll /next from a worker thread (so
    # the main thread can take signals); reuse one worker instead of starting a thread per event.
    config = LambdaConfigProvider(sys.argv)
    client = lambda_runtime_client.LambdaRuntimeClient(config.api_address, config.use_thread_polling)
    if config.use_thread_polling:
        client.ThreadPoolExecutor = _OneWorker
    _mark("runtime client")
    if os.environ.get("NIMBUS_ZYGOTE_TRACE"):
        get_handler = bootstrap._get_handler

        def traced(handler):
            try:
                return get_handler(handler)
            finally:
                _mark("handler imported")
                sys.stderr.write("NIMBUS_ZYGOTE_TRACE " + " ".join("%s=%.6f" % (n.replace(" ", "_"), t) for n, t in _TRACE) + "\n")

        bootstrap._get_handler = traced
    bootstrap.run(config.handler, client)
    return 0


class _OneWorker:
    """Stands in for ``ThreadPoolExecutor(max_workers=1)`` in a ``with`` block, without the thread churn."""

    _pool = None

    def __init__(self, max_workers=1):
        if _OneWorker._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _OneWorker._pool = ThreadPoolExecutor(max_workers=1)

    def __enter__(self):
        return _OneWorker._pool

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
