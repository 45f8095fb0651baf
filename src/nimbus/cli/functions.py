"""``nimbus functions list | deploy | invoke``: small conveniences over the Lambda API.

``deploy NAME PATH`` zips PATH (a directory or a single file) and creates the function, or updates its
code if it exists; ``invoke NAME [PAYLOAD]`` prints the response (and the log tail with ``--log``).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from nimbus.cli.client import UsageError, client

DEFAULT_ROLE = "arn:aws:iam::000000000000:role/nimbus-function"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="SUBCOMMAND", required=True)
    sub.add_parser("list", help="list functions")
    d = sub.add_parser("deploy", help="create or update a function from a directory or file")
    d.add_argument("name", help="function name")
    d.add_argument("path", help="the code: a directory (zipped with its subdirectories) or a single file")
    d.add_argument("--handler", help="module.function (default: lambda_function.lambda_handler for Python, index.handler for Node.js)")
    d.add_argument("--runtime", help="Lambda runtime (default: nodejs20.x when the code is JavaScript, else python3.12)")
    d.add_argument("--timeout", type=int, metavar="SECONDS", help="timeout in seconds (default: Lambda's, 3)")
    d.add_argument("--memory", type=int, metavar="MB", help="memory size in MB (default: Lambda's, 128)")
    d.add_argument("--env", action="append", default=[], type=_env_var, metavar="KEY=VALUE", help="an environment variable (repeatable)")
    i = sub.add_parser("invoke", help="invoke a function and print its response (or queue the event with --async)")
    i.add_argument("name", help="function name or ARN")
    i.add_argument("payload", nargs="?", default="{}", help="the event, as JSON (default {})")
    i.add_argument("--log", action="store_true", help="print the last 4 KB of the invocation's log")
    i.add_argument("--async", dest="is_async", action="store_true", help="invoke asynchronously (Event)")
    for sp in sub.choices.values():  # accept the client options after the action too
        sp.add_argument("--endpoint-url", default=argparse.SUPPRESS, help="Nimbus endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566)")
        sp.add_argument("--region", default=argparse.SUPPRESS, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile, else us-east-1)")


def _env_var(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def zip_path(path: Path) -> bytes:
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if path.is_file():
            zf.write(path, path.name)
        else:
            for f in sorted(path.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    zf.write(f, f.relative_to(path).as_posix())
        if not zf.namelist():
            raise UsageError(f"{path}: no files to deploy")
    return buf.getvalue()


JS_SUFFIXES = (".mjs", ".js", ".cjs")


def default_runtime_and_handler(path: Path) -> tuple[str, str]:
    """What ``deploy`` assumes when not told: Node.js for JavaScript code (a .js/.mjs/.cjs file, or a
    directory with a package.json or JavaScript but no Python at its top), else Python; the handler as
    the Lambda console's templates name it (a single file: that file's module)."""
    if path.is_file():
        if path.suffix in JS_SUFFIXES:
            return "nodejs20.x", f"{path.stem}.handler"
        return "python3.12", f"{path.stem}.lambda_handler" if path.suffix == ".py" else "lambda_function.lambda_handler"
    names = {f.name for f in path.iterdir()} if path.is_dir() else set()
    python = any(n.endswith(".py") for n in names)
    if not python and ("package.json" in names or any(n.endswith(JS_SUFFIXES) for n in names)):
        return "nodejs20.x", "index.handler"
    return "python3.12", "lambda_function.lambda_handler"


def run(args: argparse.Namespace) -> int:
    """AWS errors, missing credentials and an unreachable server are reported by ``nimbus.cli.main``."""
    if args.action == "deploy":
        code = zip_path(Path(args.path))  # before any request: a wrong path must not create an empty function
        return _deploy(client("lambda", args), args, code)
    if args.action == "invoke":
        try:
            json.loads(args.payload)
        except ValueError as e:
            raise UsageError(f"the payload is not JSON ({e}): {args.payload!r}") from None
        return _invoke(client("lambda", args), args)
    lam = client("lambda", args)
    for page in lam.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            print(f"{f['FunctionName']}\t{f.get('Runtime', '-')}\t{f.get('Handler', '-')}\t{f['LastModified']}")
    return 0


def _deploy(lam: Any, args: argparse.Namespace, code: bytes) -> int:
    from botocore.exceptions import ClientError

    env = dict(args.env)
    runtime, handler = default_runtime_and_handler(Path(args.path))
    config: dict[str, Any] = {"Handler": args.handler or handler, "Runtime": args.runtime or runtime}
    if args.timeout:
        config["Timeout"] = args.timeout
    if args.memory:
        config["MemorySize"] = args.memory
    if env:
        config["Environment"] = {"Variables": env}
    try:
        lam.get_function_configuration(FunctionName=args.name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        out = lam.create_function(FunctionName=args.name, Role=DEFAULT_ROLE, Code={"ZipFile": code}, **config)
        print(f"created {out['FunctionArn']}")
        return 0
    lam.update_function_code(FunctionName=args.name, ZipFile=code)
    lam.update_function_configuration(FunctionName=args.name, **config)
    print(f"updated {args.name}")
    return 0


def _invoke(lam: Any, args: argparse.Namespace) -> int:
    if args.is_async:
        lam.invoke(FunctionName=args.name, InvocationType="Event", Payload=args.payload.encode())
        print("queued")
        return 0
    out = lam.invoke(FunctionName=args.name, Payload=args.payload.encode(), LogType="Tail" if args.log else "None")
    if args.log and out.get("LogResult"):
        sys.stderr.write(base64.b64decode(out["LogResult"]).decode("utf-8", "replace"))
    print(out["Payload"].read().decode("utf-8", "replace"))
    return 1 if out.get("FunctionError") else 0
