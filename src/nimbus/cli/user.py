"""``nimbus user NAME``: a person's own keys on a shared server, over the IAM API.

Creates the IAM user when it does not exist, then a new access key for it, and prints ``export`` lines (the
same four ``nimbus credentials`` prints) for ``eval`` on that person's machine. The key is real: every
service accepts it until ``aws iam update-access-key --status Inactive`` or ``delete-access-key``. By default
Nimbus evaluates no IAM policy, so the user has the root keys' rights; on a server started with
``--iam enforce`` the user may do what its policies allow: ``--policy`` attaches managed policies (an
AWS-managed name such as ``AmazonS3FullAccess``, or any policy ARN) on the way (docs/security.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from nimbus.cli.client import client, endpoint_url, region_from_env


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="IAM user name (created when missing)")
    p.add_argument("--path", default="/", help="the user's IAM path when it is created (default /)")
    p.add_argument("--policy", action="append", default=[], metavar="NAME_OR_ARN",
                   help="attach a managed policy (an AWS-managed name such as AdministratorAccess, or an ARN); repeatable")


def run(args: argparse.Namespace) -> int:
    """AWS errors (a user who already has two keys: LimitExceeded) are reported by ``nimbus.cli.main``."""
    from botocore.exceptions import ClientError

    iam = client("iam", args)
    try:
        user = iam.get_user(UserName=args.name)["User"]
        created = False
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
        user = iam.create_user(UserName=args.name, Path=args.path)["User"]
        created = True
    for policy in args.policy:
        arn = policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}"
        iam.attach_user_policy(UserName=user["UserName"], PolicyArn=arn)
        print(f"# attached {arn}", file=sys.stderr)
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    print(f"# {'created' if created else 'existing'} user {user['Arn']}; new access key {key['AccessKeyId']} "
          "(eval these lines where it will be used)", file=sys.stderr)
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint_url(args.endpoint_url)),
        ("AWS_ACCESS_KEY_ID", key["AccessKeyId"]),
        ("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"]),
        ("AWS_DEFAULT_REGION", region_from_env(args.region)),
    ):
        print(f"export {name}={shlex.quote(value)}")
    return 0
