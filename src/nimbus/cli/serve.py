"""``nimbus serve``: resolve settings, print how to connect, run uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import socket
import sys

from nimbus.config import ConfigError, from_env


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def check_listen(host: str, port: int) -> str | None:
    """Why host:port cannot be bound (as uvicorn will bind it), or None: checked before the data dir is touched."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as e:
        reason = e.strerror or str(e)
        if e.errno == 98 or "in use" in reason:  # EADDRINUSE
            reason += " (another `nimbus serve`? stop it, or pick another --port)"
        return f"cannot listen on {host}:{port}: {reason}"
    return None


def credentials_command(endpoint: str, data_dir: str) -> str:
    """The `nimbus credentials` call that prints this server's export lines, with only the flags it needs."""
    cmd = ["nimbus", "credentials"]
    if endpoint != "http://127.0.0.1:4566":
        cmd += ["--endpoint-url", endpoint]
    if os.path.normpath(data_dir) != ".nimbus":
        cmd += ["--data-dir", data_dir]
    return f'eval "$({shlex.join(cmd)})"'


def load_botocore_without_crt_signer() -> None:
    """Import botocore with its CRT signer left out. botocore imports ``awscrt.auth`` whenever awscrt is
    installed (it is, for S3's CRC32C / CRC64NVME): ~45 ms and ~9 MB at start-up, for a signer the server
    never uses (it verifies SigV4 itself; botocore's own Python signer serves the console). Later imports of
    awscrt are unaffected: only botocore's import-time probe is answered "not installed" (``HAS_CRT`` false)."""
    if "botocore.compat" in sys.modules:
        return
    blocked = "awscrt.auth" not in sys.modules
    if blocked:
        sys.modules["awscrt.auth"] = None  # type: ignore[assignment]  # the import system's "not importable"
    try:
        import botocore.compat  # noqa: F401
    finally:
        if blocked and sys.modules.get("awscrt.auth", 0) is None:
            del sys.modules["awscrt.auth"]


def run(args: argparse.Namespace) -> int:
    try:
        settings = from_env(
            os.environ,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            auth=None if args.auth is None else args.auth == "on",
            iam=getattr(args, "iam", None),
            account_id=args.account_id,
            log_level=args.log_level,
        )
    except ConfigError as e:
        print(f"nimbus: {e}", file=sys.stderr)
        return 2
    problem = check_listen(settings.host, settings.port)
    if problem is not None:
        print(f"nimbus: {problem}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    load_botocore_without_crt_signer()
    import uvicorn

    from nimbus.server import build

    core = build(settings)
    root = core.credentials.root
    lines = [
        f"Nimbus is starting on {settings.endpoint_url} (data in {settings.data_dir})",
        f"  region hint:  any region works; resources are scoped per region (e.g. export AWS_DEFAULT_REGION={settings.default_region})",
        f"  export AWS_ENDPOINT_URL={settings.endpoint_url}",
        f"  export AWS_ACCESS_KEY_ID={root.access_key_id}",
    ]
    if core.root_created or settings.secret_access_key:
        lines.append(f"  export AWS_SECRET_ACCESS_KEY={root.secret_access_key}")
        if core.root_created:
            lines.append(f"  (generated now and stored in {settings.data_dir / 'credentials.json'}, mode 0600)")
    else:
        lines.append(f"  export AWS_SECRET_ACCESS_KEY=...   (stored in {settings.data_dir / 'credentials.json'})")
        lines.append(f"  or all four: {credentials_command(settings.endpoint_url, str(settings.data_dir))}")
    if not settings.auth:
        lines.append("  authentication is OFF: any credentials are accepted")
    elif settings.iam == "enforce":
        lines.append("  IAM is ENFORCED: users' and roles' policies decide what their keys may do (root may do all)")
    lines.append(f"  try: AWS_ENDPOINT_URL={settings.endpoint_url} aws lambda list-functions")
    lines.append(f"  web console: {settings.endpoint_url}/_nimbus/console/ (sign in with these keys, or open the link `nimbus console` prints)")
    print("\n".join(lines), flush=True)
    from nimbus.edge.h2c import Http1Or2Protocol

    config = uvicorn.Config(
        core.app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=Http1Or2Protocol,  # httptools' HTTP/1.1; HTTP/2 with prior knowledge handed to uvicorn's h2 (zttp)
        ws="websockets",  # upgrades (API Gateway WebSocket APIs) handed over by the HTTP/1.1 protocol above
        ws_max_size=128 * 1024,  # API Gateway's WebSocket message limit: a larger message closes with 1009
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down gracefully and re-raised SIGINT; no traceback
        return 130
    return 0
