"""Helpers shared by the benchmarks: start servers, run wrk, read memory. Not a test."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "NKIABENCHMARK0000001"
SECRET_KEY = "benchmark-secret-key-000000000000000000"

BARE_APP = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    """
)


def code_zip(source: str, filename: str = "app.py") -> bytes:
    """A Lambda deployment package holding one Python file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(filename, source)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} not ready")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_bare(app_source: str = BARE_APP) -> tuple[subprocess.Popen[bytes], int, Path]:
    d = Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    (d / "bareapp.py").write_text(app_source)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bareapp:app", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
         "--no-access-log", "--log-level", "warning", "--lifespan", "off"],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/")
    return proc, port, d


def start_nimbus(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int, Path, float]:
    d = Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env.update(NIMBUS_ACCESS_KEY_ID=ACCESS_KEY, NIMBUS_SECRET_ACCESS_KEY=SECRET_KEY, NIMBUS_LOG_LEVEL="warning")
    env.update(extra_env or {})
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nimbus", "serve", "--port", str(port), "--data-dir", str(d / "data")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/_nimbus/health")
    ready = time.perf_counter() - started
    return proc, port, d, ready


def stop(proc: subprocess.Popen[bytes], d: Path | None = None) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    if d is not None:
        shutil.rmtree(d, ignore_errors=True)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrk(url: str, *, connections: int, seconds: int = 5, method: str = "GET", headers: dict[str, str] | None = None,
        body: bytes = b"") -> dict[str, float]:
    """Run wrk and return req/s and p50/p99 latency in ms."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f"wrk.method = {_lua_string(method)}"]
    if body:
        lines.append(f"wrk.body = {_lua_string(body.decode())}")
    for k, v in (headers or {}).items():
        lines.append(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}")
    script.write_text("\n".join(lines) + "\n")
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "errors": float(non2xx.group(1)) if non2xx else 0.0}


def signed_headers(service: str, region: str, url: str, body: bytes, target: str | None = None, method: str = "POST",
                   content_type: str = "application/x-amz-json-1.1") -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, region).add_auth(req)
    return {k: v for k, v in req.headers.items()}


def row(name: str, figure: str, baseline: str, ratio: float | None, target: str = "") -> str:
    r = f"{ratio:.2f}" if ratio is not None else "-"
    return f"| {name} | {figure} | {baseline} | {r} | {target} |"


def start_moto(skip_variable: str = "NIMBUS_BENCH_MOTO") -> tuple[subprocess.Popen[bytes], int] | None:
    """moto in server mode on a free port (the peer the issues compare with), or None when it is not
    installed (`make bench` installs it: the `bench` extra) or ``skip_variable``/NIMBUS_BENCH_MOTO is 0."""
    if os.environ.get(skip_variable, "1") == "0" or os.environ.get("NIMBUS_BENCH_MOTO", "1") == "0":
        return None
    if not (_has_module("moto") and _has_module("flask")):
        print("(moto[server] is not installed: its rows are left out; `make bench` installs it)")
        return None
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/")
    except RuntimeError:
        proc.terminate()
        return None
    return proc, port


def stop_moto(moto: tuple[subprocess.Popen[bytes], int] | None) -> None:
    if moto is not None:
        moto[0].terminate()
        try:
            moto[0].wait(timeout=10)
        except subprocess.TimeoutExpired:
            moto[0].kill()


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
