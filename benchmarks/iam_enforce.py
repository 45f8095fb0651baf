"""IAM enforcement's cost (``--iam enforce``): a cheap signed call (Firehose ListDeliveryStreams) made with
an IAM user's key whose policies allow it (an inline policy of ten statements, a group with a managed
policy, a permissions boundary), against a server that enforces IAM and one that does not, in alternating
wrk rounds (the baseline: the same server software and call without enforcement); and the in-process
cost of one ``Authorizer.check`` (compiled policies cached).

Run: .venv/bin/python benchmarks/iam_enforce.py   (needs wrk: apt-get install wrk; NIMBUS_BENCH_ROUNDS=n, default 3)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from _common import ACCESS_KEY, SECRET_KEY, have_wrk, row, start_nimbus, stop, wrk


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user_key(port: int) -> dict[str, str]:
    import boto3

    kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="bench")
    statements = [{"Effect": "Allow", "Action": f"s3:Get{i}*", "Resource": f"arn:aws:s3:::bucket-{i}/*"} for i in range(8)]
    statements.append({"Effect": "Deny", "Action": "firehose:Delete*", "Resource": "*"})
    statements.append({"Effect": "Allow", "Action": "firehose:List*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}})
    iam.put_user_policy(UserName="bench", PolicyName="p", PolicyDocument=_doc(*statements))
    iam.create_group(GroupName="bench-group")
    iam.attach_group_policy(GroupName="bench-group", PolicyArn="arn:aws:iam::aws:policy/AmazonKinesisFirehoseFullAccess")
    iam.add_user_to_group(GroupName="bench-group", UserName="bench")
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=_doc({"Effect": "Allow", "Action": ["firehose:*", "s3:*"], "Resource": "*"}))
    iam.put_user_permissions_boundary(UserName="bench", PermissionsBoundary=boundary["Policy"]["Arn"])
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _signed(url: str, key: dict[str, str], body: bytes) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"})
    SigV4Auth(Credentials(key["id"], key["secret"]), "firehose", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def in_process(n: int = 20000) -> float:
    """µs per Authorizer.check for the bench user's request (cache warm)."""
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from nimbus.credentials import Credentials
    from nimbus.services.iam.authorize import Authorizer
    from nimbus.services.iam.engine import Iam
    from nimbus.storage.sqlite import SqliteMetadataStore

    with tempfile.TemporaryDirectory() as d:
        store = SqliteMetadataStore(Path(d) / "m.db")
        iam = Iam(store)
        iam.create_user("000000000000", "bench")
        statements = [{"Effect": "Allow", "Action": f"s3:Get{i}*", "Resource": f"arn:aws:s3:::bucket-{i}/*"} for i in range(8)]
        statements.append({"Effect": "Allow", "Action": "firehose:List*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}})
        iam.put_user_policy("000000000000", "bench", "p", _doc(*statements))
        auth = Authorizer(iam)
        creds = Credentials("AKIA", "s", principal="user/bench", account_id="000000000000", user_id="AIDA")
        auth.check(creds, "firehose", "ListDeliveryStreams", {}, region="us-east-1")
        t = time.perf_counter()
        for _ in range(n):
            auth.check(creds, "firehose", "ListDeliveryStreams", {}, region="us-east-1")
        us = (time.perf_counter() - t) / n * 1e6
        store.close()
    return us


def main() -> int:
    rounds = int(os.environ.get("NIMBUS_BENCH_ROUNDS", "3"))
    try:
        print(f"in-process Authorizer.check: {in_process():.1f} µs per request (compiled policies cached)\n")
    except Exception as e:  # noqa: BLE001 - the HTTP figures still stand
        print(f"in-process figure unavailable: {e}\n")
    if not have_wrk():
        print("wrk is not installed (apt-get install wrk); skipping the HTTP part")
        return 0
    off, oport, odir, _ = start_nimbus()
    on, eport, edir, _ = start_nimbus({"NIMBUS_IAM": "enforce"})
    try:
        body = b"{}"
        targets = {}
        for who, port in (("off", oport), ("enforce", eport)):
            url = f"http://127.0.0.1:{port}/"
            targets[who] = (url, _signed(url, _user_key(port), body))
            out = wrk(url, connections=1, seconds=1, method="POST", headers=targets[who][1], body=body)
            if out["errors"]:
                print(f"warning: non-2xx responses from the {who} server", file=sys.stderr)
        print(f"{rounds} alternating rounds of 4 s per server and concurrency\n")
        print("| measurement | --iam enforce | --iam off (same run) | ratio | target |\n|---|---|---|---|---|")
        for c in (1, 32):
            runs: dict[str, list[float]] = {"off": [], "enforce": []}
            for r in range(rounds):
                for who in (("off", "enforce") if r % 2 == 0 else ("enforce", "off")):
                    url, headers = targets[who]
                    runs[who].append(wrk(url, connections=c, seconds=4, method="POST", headers=headers, body=body)["rps"])
            e, o = statistics.mean(runs["enforce"]), statistics.mean(runs["off"])
            print(row(f"IAM user's signed ListDeliveryStreams/s, c={c}", f"{e:,.0f}", f"{o:,.0f}", e / o, ">= 0.9"))
    finally:
        stop(off, odir)
        stop(on, edir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
