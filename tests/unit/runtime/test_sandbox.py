"""Isolation and launch modes: bubblewrap sandbox, no sandbox, zygote off (plain spawn)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nimbus.runtime import sandbox

from .conftest import Harness

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap not installed: no sandbox to test")

PROBE = """
import glob, json, os
def lambda_handler(event, context):
    seen = {}
    for path in event["paths"]:
        try:
            with open(path, "rb") as f:
                seen[path] = f.read(64).decode(errors="replace")
        except Exception as e:
            seen[path] = type(e).__name__
    peeks = []
    candidates = glob.glob("/proc/[0-9]*/root/var/task/secret.py") + glob.glob("/proc/[0-9]*/environ")
    candidates += glob.glob("/proc/[0-9]*/root" + event["host_secret"])
    for p in candidates:
        if p.startswith("/proc/%d/" % os.getpid()) or p.startswith("/proc/self/"):
            continue
        try:
            with open(p, "rb") as f:
                data = f.read()
            if b"TOP-SECRET" in data or b"AWS_SECRET_ACCESS_KEY" in data:
                peeks.append(p)
        except Exception:
            pass
    with open("/tmp/mine", "w") as f:
        f.write("ok")
    return {"seen": seen, "peeks": peeks, "task": sorted(os.listdir("/var/task")), "tmp": os.listdir("/tmp")}
"""


@pytest.fixture(scope="module")
def boxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("boxed"), sandbox="bwrap")
    yield h
    h.close()


@needs_bwrap
def test_function_cannot_read_another_functions_code(boxed: Harness) -> None:
    other = boxed.function("SECRET = 'TOP-SECRET'\ndef lambda_handler(e, c):\n    return SECRET\n", filename="secret.py", handler="secret.lambda_handler")
    assert json.loads(boxed.invoke(other).payload) == "TOP-SECRET"  # running, so its /proc entries exist
    probe = boxed.function(PROBE)
    secret = str(Path(other.code_dir) / "secret.py")
    data_file = boxed.settings.data_dir / "canary"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_text("data dir")
    paths = [secret, str(data_file), sandbox.HOST_VIEW + secret, "/var/task/lambda_function.py"]
    r = boxed.invoke(probe, json.dumps({"paths": paths, "host_secret": sandbox.HOST_VIEW + secret}).encode())
    assert r.function_error is None, r.payload
    out = json.loads(r.payload)
    assert out["seen"][secret] == "FileNotFoundError"
    assert out["seen"][str(data_file)] == "FileNotFoundError"
    assert out["seen"][sandbox.HOST_VIEW + secret] == "FileNotFoundError"
    assert out["seen"]["/var/task/lambda_function.py"].startswith("\nimport glob")
    assert out["peeks"] == []
    assert out["task"] == ["lambda_function.py"]
    # a private /tmp: only what the function wrote, plus the read-only interpreter roots when the
    # checkout itself lives under /tmp (they are bound back so the runtime can import its packages)
    under_tmp = {os.path.realpath(p).split("/")[2] for p in (sys.prefix, sys.base_prefix) if os.path.realpath(p).startswith("/tmp/")}
    assert sorted(out["tmp"]) == sorted({"mine"} | under_tmp)


@needs_bwrap
def test_code_is_read_only(boxed: Harness) -> None:
    spec = boxed.function(
        """
        def lambda_handler(event, context):
            try:
                open("/var/task/new.txt", "w")
            except OSError as e:
                return type(e).__name__
            return "writable"
        """
    )
    assert json.loads(boxed.invoke(spec).payload) in ("OSError", "PermissionError")


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("none", True), id="no-sandbox-zygote"),
        pytest.param(("none", False), id="no-sandbox-spawn"),
        pytest.param(("bwrap", False), id="bwrap-spawn", marks=needs_bwrap),
    ],
)
def mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    box, zygote = request.param
    h = Harness(tmp_path_factory.mktemp("mode"), sandbox=box)
    h.invoker.use_zygote = zygote
    yield h
    h.close()


def test_modes_echo_error_crash_timeout(mode: Harness) -> None:
    spec = mode.function(
        """
        import os, sys, time
        def lambda_handler(event, context):
            if event.get("crash"):
                os._exit(2)
            if event.get("sleep"):
                time.sleep(10)
            if event.get("raise"):
                raise ValueError("bad")
            return {"path": sys.path[:1], "tmp": os.environ.get("TMPDIR"), "e": event}
        """,
        timeout_s=1.0,
    )
    ok = mode.invoke(spec, b'{"x": 1}')
    assert json.loads(ok.payload)["e"] == {"x": 1}, ok.payload
    assert json.loads(ok.payload)["path"] == [json.loads(ok.payload)["path"][0]]
    err = json.loads(mode.invoke(spec, b'{"raise": 1}').payload)
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "bad"
    crash = json.loads(mode.invoke(spec, b'{"crash": 1}').payload)
    assert crash["errorType"] == "Runtime.ExitError" and crash["errorMessage"].endswith("exit status 2")
    timeout = json.loads(mode.invoke(spec, b'{"sleep": 1}').payload)
    assert timeout["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert json.loads(mode.invoke(spec, b'{"x": 2}').payload)["e"] == {"x": 2}


def test_layers_and_zip_precedence(mode: Harness, tmp_path: Path) -> None:
    layer1, layer2 = tmp_path / "l1", tmp_path / "l2"
    for layer, value in ((layer1, "one"), (layer2, "two")):
        (layer / "python").mkdir(parents=True)
        (layer / "python" / "shared_mod.py").write_text(f"WHO = {value!r}\n")
    (layer1 / "python" / "only_one.py").write_text("X = 1\n")
    spec = mode.function(
        """
        import shared_mod, only_one, boto3
        def lambda_handler(event, context):
            return [shared_mod.WHO, only_one.X, boto3.__name__]
        """,
        layers=(layer1, layer2),
    )
    r = mode.invoke(spec)
    assert json.loads(r.payload) == ["two", 1, "boto3"], r.payload


PID_PROBE = """
import os, signal
def lambda_handler(event, context):
    visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    signalled = {}
    for pid in event["targets"]:
        try:
            os.kill(pid, signal.SIGKILL)
            signalled[str(pid)] = "sent"
        except OSError as e:
            signalled[str(pid)] = type(e).__name__
    return {"me": os.getpid(), "parent": os.getppid(), "visible": visible, "signalled": signalled}
"""


@needs_bwrap
def test_environments_have_their_own_pid_namespace(boxed: Harness) -> None:
    victim = boxed.function("def lambda_handler(e, c):\n    return 'alive'\n")
    assert json.loads(boxed.invoke(victim).payload) == "alive"
    env = next(iter(boxed.invoker._pools[(victim.function_arn, victim.version, victim.config_key)].idle))
    assert env.process is not None
    zygote = next(z for z in boxed.invoker._zygotes.values() if z.sandboxed)
    assert zygote.pid_namespaces and zygote._proc is not None
    targets = sorted({env.process.pid, env.process.worker_pid, zygote._proc.pid, os.getpid()})
    assert min(targets) > 2  # host pids; inside a namespace only 1 (its init) and 2 (the function) exist
    probe = boxed.function(PID_PROBE)
    r = boxed.invoke(probe, json.dumps({"targets": targets}).encode())
    assert r.function_error is None, r.payload
    out = json.loads(r.payload)
    assert out["me"] == 2 and out["parent"] == 1
    assert out["visible"] == [1, 2]  # a fresh /proc: no other environment, no zygote, no server
    assert set(out["signalled"].values()) == {"ProcessLookupError"}
    again = boxed.invoke(victim)  # the other environment was not touched: same warm process
    assert json.loads(again.payload) == "alive" and again.init_duration_ms is None
    assert env.alive and env.process.status is None


@needs_bwrap
def test_pid_namespace_keeps_exit_status_and_ends_leftover_processes(boxed: Harness) -> None:
    spec = boxed.function(
        """
        import os, subprocess, time
        def lambda_handler(event, context):
            if event.get("spawn"):
                subprocess.Popen(["sleep", "299.25"], start_new_session=True)  # a marker argument
                return os.getpid()
            os.kill(os.getpid(), event["signal"]) if event.get("signal") else os._exit(event["code"])
        """
    )
    before = set(_leftovers())
    assert json.loads(boxed.invoke(spec, b'{"spawn": 1}').payload) == 2
    for _ in range(500):  # (its command line shows once exec completes)
        if set(_leftovers()) - before:
            break
        time.sleep(0.01)
    assert set(_leftovers()) - before  # the function's background process runs while its environment lives
    for body, expected in ((b'{"code": 139}', "exit status 139"), (b'{"signal": 9}', "signal: killed")):
        err = json.loads(boxed.invoke(spec, body).payload)
        assert err["errorType"] == "Runtime.ExitError" and err["errorMessage"].endswith(expected), err
    # the namespace ended with its init: what the first environment left behind is killed
    for _ in range(500):
        if not set(_leftovers()) - before:
            break
        time.sleep(0.01)
    assert not set(_leftovers()) - before


def _leftovers() -> list[int]:
    found = []
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read() == b"sleep\x00299.25\x00":
                    with open(f"/proc/{p}/stat") as st:
                        if st.read().rsplit(")", 1)[1].split()[0] != "Z":
                            found.append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    return found
