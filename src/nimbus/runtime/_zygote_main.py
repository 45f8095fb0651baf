"""Zygote program: a warm Python that forks execution environments on request.

Run as a script by the target interpreter (stdlib only, Python 3.8+; it does not import nimbus). It
imports awslambdaric, boto3 and botocore, warms boto3's default session with the models functions use
most, freezes the heap, then serves fork requests on an inherited SOCK_SEQPACKET socket (fd in argv[1]):

    request  {"seq", "env", "cwd", "path", "handler", "sandbox"} + the output pipe fd (SCM_RIGHTS)
    replies  {"seq", "pid"} | {"seq", "error"};  unsolicited {"exit": pid, "status": wait_status}

A child applies its environment after the fork: its own session, stdout/stderr onto its pipe, the
AWS variables, cwd and sys.path, an optional mount sandbox (when the zygote runs inside bubblewrap),
no capabilities and non-dumpable; then it loads awslambdaric's native runtime client, whose endpoint
is read once from AWS_LAMBDA_RUNTIME_API at initialisation (so it is imported only in the child), and
runs awslambdaric's loop.
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
    except ImportError:
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
    if os.environ.get("NIMBUS_ZYGOTE_SANDBOX") == "1":
        _prctl(4, 0)  # PR_SET_DUMPABLE 0: children may not peek at our /proc entries
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    os.set_blocking(rfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send(ctl, {"ready": True, "version": "%d.%d.%d" % sys.version_info[:3], "preloaded": _third_party_modules()})
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
                _reap(ctl)
                continue
            try:
                msg, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 4)
            except (BlockingIOError, InterruptedError):
                continue
            if not msg:
                os._exit(0)  # the server went away
            req = json.loads(msg)
            out_fd = fds[0] if fds else -1
            try:
                pid = os.fork()
            except OSError as e:
                _send(ctl, {"seq": req["seq"], "error": str(e)})
                if out_fd >= 0:
                    os.close(out_fd)
                continue
            if pid == 0:
                code = 127
                try:
                    os.close(rfd)
                    os.close(wfd)
                    ctl.close()
                    code = _child(req, out_fd, base_path)
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
            if out_fd >= 0:
                os.close(out_fd)
            _send(ctl, {"seq": req["seq"], "pid": pid})


def _reap(ctl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
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


def _sandbox(spec):
    """Enter a private mount namespace showing only this function's code, layers and /tmp."""
    import ctypes
    import struct

    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
    libc = _lib()
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
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
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    _prctl(1, 9)  # PR_SET_PDEATHSIG: die with the zygote
    if out_fd >= 0:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if req.get("sandbox"):
        _sandbox(req["sandbox"])
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
