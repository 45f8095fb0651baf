"""``nimbus``: the server (``serve``) and client-side conveniences over the AWS API.

Client commands find the server from --endpoint-url, else AWS_ENDPOINT_URL, else
http://127.0.0.1:4566, and sign with the standard AWS credential chain, else the root credentials
a local server stored in the default data dir.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from nimbus import __version__

# subcommand name -> (module, help); modules expose add_arguments(parser) and run(args) -> int
CLIENT_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("nimbus.cli.demo", "run the seed tutorial end to end (HTTP-triggered functions, Firehose with a Lambda transform, S3)"),
    "console": ("nimbus.cli.console", "print a sign-in link for the web console (/_nimbus/console/) made from your keys"),
    "credentials": ("nimbus.cli.credentials", "print export lines for the local server's root credentials"),
    "firehose": ("nimbus.cli.firehose", "flush a delivery stream's buffer now, or describe it (buffer fill, last delivery, errors)"),
    "functions": ("nimbus.cli.functions", "list, deploy and invoke Lambda functions"),
    "logs": ("nimbus.cli.logs", "print (and follow) a function's log"),
    "trigger": ("nimbus.cli.trigger", "add a trigger to a function (http: an API Gateway URL, as the console's Add trigger)"),
    "user": ("nimbus.cli.user", "create an IAM user (when missing) and a new access key; print its export lines"),
}


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (NIMBUS_HOST; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (NIMBUS_PORT; default 4566)")
    p.add_argument("--data-dir", help="data directory (NIMBUS_DATA_DIR; default ./.nimbus)")
    p.add_argument("--auth", choices=["on", "off"], help="SigV4 authentication (default on; off only on loopback)")
    p.add_argument("--iam", choices=["off", "enforce"], help="IAM policies: off (recorded only, the default) or enforce (NIMBUS_IAM)")
    p.add_argument("--account-id", help="account id used in ARNs (default 000000000000)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="server log level (default info)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, the arguments of that one command (the others keep their
    name and help, without importing their modules: ``nimbus serve`` starts ~40 ms sooner)."""
    parser = argparse.ArgumentParser(prog="nimbus", description="Nimbus: a self-hosted serverless platform that speaks the AWS APIs.")
    parser.add_argument("--version", action="version", version=f"nimbus {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the Nimbus server")
    _serve_args(serve)
    sub.add_parser("version", help="print the version")
    for name, (module, help_text) in CLIENT_COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if only is not None and name != only:
            continue
        add_client_options(p)
        mod = __import__(module, fromlist=["add_arguments"])
        mod.add_arguments(p)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first argument that is not an option), if it is one."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in ("serve", "version") or arg in CLIENT_COMMANDS else None
        if arg in ("-h", "--help", "--version"):
            return None
    return None


def add_client_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint-url", help="Nimbus endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566)")
    p.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile, else us-east-1)")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(args_list))
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "version":
        print(f"nimbus {__version__}")
        return 0
    if args.command == "serve":
        from nimbus.cli.serve import run

        return run(args)
    module = CLIENT_COMMANDS[args.command][0]
    mod = __import__(module, fromlist=["run"])
    runner: Callable[[Any], int] = mod.run
    return run_client(runner, args)


def run_client(runner: Callable[[Any], int], args: argparse.Namespace) -> int:
    """Run a client command; every failure a user can cause is one line on stderr and an exit status, never a traceback.

    1: the request failed (no server, bad credentials, unknown resource); 2: a usage mistake found before any
    request; 130: Ctrl-C; 141: the reader of stdout went away (``nimbus functions list | head -1``).
    """
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, SSLError

    from nimbus.cli.client import UsageError, endpoint_url

    prog = f"nimbus {args.command}"
    try:
        rc = runner(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not by the interpreter at exit
        return rc
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout's reader has gone: stop quietly (and keep Python from complaining again at exit)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except EndpointConnectionError:  # no server there: say so, without a traceback
        print(f"{prog}: cannot reach Nimbus at {endpoint_url(getattr(args, 'endpoint_url', None))} (is `nimbus serve` running? "
              "the endpoint comes from --endpoint-url, else AWS_ENDPOINT_URL, else http://127.0.0.1:4566)", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print(f"{prog}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (eval \"$(nimbus credentials)\" prints them), "
              "or run it where the server's .nimbus is (or with NIMBUS_DATA_DIR)", file=sys.stderr)
        return 1
    except SSLError:
        print(f"{prog}: TLS handshake with {endpoint_url(getattr(args, 'endpoint_url', None))} failed: "
              "Nimbus serves plain HTTP, use an http:// endpoint", file=sys.stderr)
        return 1
    except ClientError as e:  # the server answered with an AWS error: its code and message, as the AWS CLI names them
        err = e.response.get("Error", {})
        print(f"{prog}: {err.get('Code') or 'Error'}: {err.get('Message') or e}", file=sys.stderr)
        return 1
    except BotoCoreError as e:  # e.g. https:// against the plain-HTTP server, a read timeout
        print(f"{prog}: {e}", file=sys.stderr)
        return 1

if __name__ == "__main__":
    sys.exit(main())
