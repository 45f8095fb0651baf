"""Lambda invoke benchmark: runtime level (Invoker, in process) and, when present, API level.

Runtime figures, each beside a baseline measured in the same run:

* warm ``Invoker.invoke`` latency of an echo handler at concurrency 1 (p50/p99) and throughput at
  concurrency 8 and 32;
* cold start (first invoke of a new function: environment start + init + invoke) of a handler that
  imports boto3 and creates a client, with the zygote (after idle, and back to back) and with plain
  spawn, beside spawning ``python -c "import boto3"``;
* resident memory of one idle environment (and of the zygote it was forked from);
* Node.js (when installed): cold start and warm invoke of an echo handler beside ``node -e ""`` and
  Python's warm invoke, in the same run;
* provisioned concurrency: the first invoke of a version whose environment was provisioned ahead
  (``Invoker.provision``) beside a cold start of the same handler and a warm invoke, in the same run,
  and how long provisioning one environment takes.

API figures (boto3 and raw HTTP through the edge) come from ``_lambda_api.api_figures`` when it exists.
Run: ``.venv/bin/python benchmarks/lambda_invoke.py [--runtime-only]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from nimbus.config import Settings  # noqa: E402
from nimbus.credentials import CredentialStore, Credentials  # noqa: E402
from nimbus.runtime import FunctionSpec, Invoker  # noqa: E402
from nimbus.runtime.output import NullLogSink  # noqa: E402

ECHO = "def handler(event, context):\n    return event\n"
BOTO = "import boto3\nclient = boto3.client('firehose', 'us-east-2')\ndef handler(event, context):\n    return 'ok'\n"


def row(name: str, figure: str, baseline: str, ratio: float | None, target: str = "") -> str:
    r = f"{ratio:.2f}" if ratio is not None else "-"
    return f"| {name} | {figure} | {baseline} | {r} | {target} |"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Bench:
    def __init__(self, root: Path, *, use_zygote: bool = True) -> None:
        self.root = root
        store = CredentialStore(Credentials("NKIABENCH", "secret"), "000000000000")
        self.invoker = Invoker(
            endpoint_url="http://127.0.0.1:4566",
            credentials_issuer=store.issue,
            log_sink=NullLogSink(),
            settings=Settings(data_dir=root / "data", account_concurrency=1000),
            use_zygote=use_zygote,
        )

    def spec(self, source: str, name: str | None = None, runtime: str = "python3.12") -> FunctionSpec:
        name = name or f"bench-{uuid.uuid4().hex[:8]}"
        code = self.root / name
        code.mkdir(parents=True, exist_ok=True)
        (code / ("app.mjs" if runtime.startswith("nodejs") else "app.py")).write_text(source)
        return FunctionSpec(
            name, f"arn:aws:lambda:us-east-2:000000000000:function:{name}", "$LATEST", runtime, "app.handler",
            code, (), 128, 30.0, 512, {}, "us-east-2", "000000000000", f"/aws/lambda/{name}", uuid.uuid4().hex,
        )


async def warm_figures(n: int = 3000, seconds: float = 3.0) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-rt-") as d:
        b = Bench(Path(d))
        inv = b.invoker
        spec = b.spec(ECHO)
        payload = b'{"hello": "world"}'
        for _ in range(200):
            await inv.invoke(spec, payload)
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            await inv.invoke(spec, payload)
            lat.append((time.perf_counter() - t) * 1000)
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        rtt = await _loopback_rtt_ms()
        rows.append(row("warm Invoker.invoke p50, c=1", f"{p50:.3f} ms (p99 {p99:.3f})", f"{rtt:.3f} ms (2 loopback round trips)", p50 / rtt))
        for conc in (8, 32):
            await asyncio.gather(*(inv.invoke(spec, payload) for _ in range(conc)))
            done = 0
            stop = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    await inv.invoke(spec, payload)
                    done += 1

            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(conc)))
            rate = done / (time.perf_counter() - t)
            rows.append(row(f"warm Invoker.invoke throughput, c={conc}", f"{rate:,.0f} /s", "-", None, ">= 3,000/s at c=32 (HTTP)"))
        env = next(iter(inv._pools.values())).idle[0]
        rss = _rss_kb(env.process.worker_pid) / 1024 if env.process else 0.0
        pss = _pss_kb(env.process.worker_pid) / 1024 if env.process else 0.0
        zyg = next(iter(inv._zygotes.values()), None)
        rows.append(row("idle environment memory", f"RSS {rss:.1f} MB, PSS {pss:.1f} MB", f"zygote RSS {zyg.rss_kb() / 1024 if zyg else 0:.1f} MB", None))
        await inv.aclose()
    return rows


async def _cold(b: Bench, source: str, count: int, pause_s: float) -> tuple[list[float], list[float]]:
    times, inits = [], []
    for _ in range(count):
        spec = b.spec(source)
        t = time.perf_counter()
        r = await b.invoker.invoke(spec, b"{}")
        times.append((time.perf_counter() - t) * 1000)
        inits.append(r.init_duration_ms or 0.0)
        b.invoker.invalidate(spec.function_arn)
        await asyncio.sleep(pause_s)
    return times, inits


IDLE_PAUSE_S = 0.1  # between cold starts: the zygote forks its next spare environment meanwhile


async def cold_figures(n: int = 21) -> list[str]:
    """Cold starts: ``after idle`` leaves 100 ms between them (a first invoke after create or after an
    idle reap: the zygote's pre-forked spare is ready); ``back to back`` starts the next at once (a
    burst of scale-out: each start also pays for preparing the next spare)."""
    rows = []
    base = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3"], check=True)
        base.append((time.perf_counter() - t) * 1000)
    b50 = statistics.median(base)
    bl = f"{b50:.1f} ms (python -c 'import boto3')"
    for label, zygote, count, pause in (
        ("zygote, after idle", True, n, IDLE_PAUSE_S), ("zygote, back to back", True, n, 0.0), ("spawn", False, 5, 0.0)
    ):
        with tempfile.TemporaryDirectory(prefix="nimbus-bench-cold-") as d:
            b = Bench(Path(d), use_zygote=zygote)
            await b.invoker.start()
            await asyncio.sleep(IDLE_PAUSE_S)
            times, inits = await _cold(b, BOTO, count, pause)
            p50 = statistics.median(times)
            rows.append(
                row(f"cold start ({label}, {b.invoker.sandbox_mode}) p50, boto3 client handler",
                    f"{p50:.1f} ms (min {min(times):.1f}, init {statistics.median(inits):.1f} ms)", bl, p50 / b50,
                    "<= 10 ms" if zygote else "")
            )
            await b.invoker.aclose()
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-cold-") as d:
        b = Bench(Path(d))
        await b.invoker.start()
        await asyncio.sleep(IDLE_PAUSE_S)
        times, _ = await _cold(b, ECHO, n, IDLE_PAUSE_S)
        p50 = statistics.median(times)
        rows.append(row("cold start (zygote, after idle) p50, echo handler", f"{p50:.1f} ms (min {min(times):.1f})", bl, p50 / b50, "<= 10 ms"))
        await b.invoker.aclose()
    return rows


async def provisioned_figures(n: int = 15) -> list[str]:
    """First invoke served by a provisioned environment vs a cold on-demand start of the same handler
    (boto3 client at init), alternating, each on a new function."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-pc-") as d:
        b = Bench(Path(d))
        inv = b.invoker
        await inv.start()
        await asyncio.sleep(IDLE_PAUSE_S)
        first_pc, first_cold, provision_ms, warm = [], [], [], []
        for i in range(n):
            spec = b.spec(BOTO)
            t = time.perf_counter()
            ready, failure = await inv.provision(spec, f"bench-{i}", 1)
            provision_ms.append((time.perf_counter() - t) * 1000)
            assert ready == 1 and failure is None, failure
            await asyncio.sleep(IDLE_PAUSE_S)
            t = time.perf_counter()
            await inv.invoke(spec, b"{}")
            first_pc.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await inv.invoke(spec, b"{}")
            warm.append((time.perf_counter() - t) * 1000)
            inv.unprovision(f"bench-{i}")
            cold, _ = await _cold(b, BOTO, 1, IDLE_PAUSE_S)
            first_cold += cold
        pc50, cold50, warm50 = statistics.median(first_pc), statistics.median(first_cold), statistics.median(warm)
        rows.append(row("provisioned: first invoke p50, boto3 client handler", f"{pc50:.2f} ms (p90 {pct(first_pc, 0.9):.2f})",
                        f"{cold50:.1f} ms cold start; {warm50:.2f} ms warm invoke", pc50 / cold50, "as warm as a warm invoke"))
        rows.append(row("provisioned: PutProvisionedConcurrencyConfig to READY, 1 environment", f"{statistics.median(provision_ms):.1f} ms", f"{cold50:.1f} ms cold start", None))
        await inv.aclose()
    return rows


NODE_ECHO = "export const handler = async (event) => event;\n"


async def node_figures(n: int = 11, warm_n: int = 2000) -> list[str]:
    import shutil

    node = shutil.which("node")
    if node is None:
        return [row("Node.js", "not installed", "-", None)]
    base = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([node, "-e", ""], check=True)
        base.append((time.perf_counter() - t) * 1000)
    b50 = statistics.median(base)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-node-") as d:
        b = Bench(Path(d))
        inv = b.invoker
        cold = []
        for _ in range(n):
            spec = b.spec(NODE_ECHO, runtime="nodejs20.x")
            t = time.perf_counter()
            await inv.invoke(spec, b"{}")
            cold.append((time.perf_counter() - t) * 1000)
            inv.invalidate(spec.function_arn)
            await asyncio.sleep(IDLE_PAUSE_S)
        c50 = statistics.median(cold)
        rows.append(row("Node.js cold start p50, echo handler", f"{c50:.1f} ms (min {min(cold):.1f})", f"{b50:.1f} ms (node -e '')", c50 / b50))
        lat = {}
        for label, spec in (("node", b.spec(NODE_ECHO, runtime="nodejs20.x")), ("python", b.spec(ECHO))):
            for _ in range(100):
                await inv.invoke(spec, b'{"hello": "world"}')
            xs = []
            for _ in range(warm_n):
                t = time.perf_counter()
                await inv.invoke(spec, b'{"hello": "world"}')
                xs.append((time.perf_counter() - t) * 1000)
            lat[label] = xs
        n50, p50 = pct(lat["node"], 0.5), pct(lat["python"], 0.5)
        rows.append(row("Node.js warm Invoker.invoke p50, c=1", f"{n50:.3f} ms (p99 {pct(lat['node'], 0.99):.3f})", f"{p50:.3f} ms Python (same run)", n50 / p50))
        await inv.aclose()
    return rows


async def _loopback_rtt_ms(n: int = 2000) -> float:
    """Floor: two request/response round trips over loopback TCP between asyncio and a process."""
    code = (
        "import socket,sys\nl=socket.socket(); l.bind(('127.0.0.1',0)); l.listen()\n"
        "print(l.getsockname()[1], flush=True)\ns,_=l.accept()\n"
        "while True:\n d=s.recv(65536)\n if not d: break\n s.sendall(d)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert p.stdout is not None
    port = int(p.stdout.readline())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    msg = b"x" * 200
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        for _ in range(2):
            writer.write(msg)
            await reader.readexactly(len(msg))
        lat.append((time.perf_counter() - t) * 1000)
    writer.close()
    await writer.wait_closed()
    p.wait()
    return pct(lat, 0.5)


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS:")


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def runtime_figures() -> list[str]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    rows = ["| measure | Nimbus | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    rows += asyncio.run(warm_figures())
    rows += asyncio.run(cold_figures())
    rows += asyncio.run(node_figures())
    rows += asyncio.run(provisioned_figures())
    return rows


def main() -> None:
    print(f"# Lambda invoke, runtime level ({os.cpu_count()} CPUs)")
    for r in runtime_figures():
        print(r)
    if "--runtime-only" in sys.argv:
        return
    try:
        from _lambda_api import api_figures
    except ImportError:
        return
    print("\n# Lambda invoke, API level")
    for r in api_figures():
        print(r)


if __name__ == "__main__":
    main()
