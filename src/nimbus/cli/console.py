"""``nimbus console``: a sign-in link for the web console, from the keys the CLI signs with.

The link is a presigned STS GetCallerIdentity request whose path is the console's sign-in page
(``/_nimbus/console/login``): opening it proves the keys to the server without the secret ever being in
the URL, as AWS's federation sign-in URLs do. It is valid for ``--expires`` seconds (default 300) and
signs the browser in for 12 hours, or until the keys stop being valid.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit, urlunsplit

from nimbus.cli.client import endpoint_url, session

LOGIN_PATH = "/_nimbus/console/login"
LOGIN_MARKER = "X-Nimbus-Console-Login"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--expires", type=int, default=300, help="seconds the link stays valid (default 300, at most 3600)")


def sign_in_url(endpoint: str, access_key: str, secret_key: str, token: str | None, region: str, expires: int) -> str:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    base = endpoint.rstrip("/")
    # the marker parameter makes the link good for the console only: a presigned GetCallerIdentity made for
    # something else (an EKS-style token) does not sign anyone in to the console
    request = AWSRequest(method="GET", url=f"{base}/?Action=GetCallerIdentity&Version=2011-06-15&{LOGIN_MARKER}=1")
    SigV4QueryAuth(Credentials(access_key, secret_key, token), "sts", region, expires=expires).add_auth(request)
    parts = urlsplit(request.prepare().url)
    return urlunsplit((parts.scheme, parts.netloc, LOGIN_PATH, parts.query, ""))


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.expires <= 3600:
        print("nimbus console: --expires must be between 1 and 3600 seconds", file=sys.stderr)
        return 2
    sess = session(args.region)
    creds = sess.get_credentials()
    if creds is None:
        print("nimbus console: no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run next to a local `nimbus serve`",
              file=sys.stderr)
        return 1
    frozen = creds.get_frozen_credentials()
    print(sign_in_url(endpoint_url(args.endpoint_url), frozen.access_key, frozen.secret_key, frozen.token,
                      sess.region_name or "us-east-1", args.expires))
    print(f"Open this link within {args.expires} s to sign in to the Nimbus console as these keys' identity.", file=sys.stderr)
    return 0
