"""``nimbus firehose flush NAME`` and ``nimbus firehose describe NAME [--json]``.

``flush`` delivers everything a delivery stream holds now and waits until it is delivered (the Nimbus-only
``POST /_nimbus/firehose/flush/<region>/<name>``: it changes when data is delivered, never what).
``describe`` combines DescribeDeliveryStream (boto3) with the stream's live counters from
``GET /_nimbus/firehose/streams``: buffer fill, last delivery, errors.

The endpoint and credentials are resolved as for every client command (``nimbus.cli.client``); the
``/_nimbus/`` endpoints are plain HTTP on the same endpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from nimbus.cli.client import client, endpoint_url

FLUSH_TIMEOUT_S = 90  # the server gives up after 60 s and answers 504


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="firehose_command", metavar="SUBCOMMAND", required=True)
    flush = sub.add_parser("flush", help="deliver a delivery stream's buffer now and wait until it is delivered")
    flush.add_argument("name", help="delivery stream name")
    describe = sub.add_parser("describe", help="show a delivery stream: configuration, buffer fill, last delivery, errors")
    describe.add_argument("name", help="delivery stream name")
    describe.add_argument("--json", action="store_true", help="print the description and counters as JSON")
    for s in (flush, describe):
        # also accepted after the subcommand; SUPPRESS keeps a value given before it
        s.add_argument("--endpoint-url", default=argparse.SUPPRESS, help="Nimbus endpoint (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566)")
        s.add_argument("--region", default=argparse.SUPPRESS, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile, else us-east-1)")


def run(args: argparse.Namespace) -> int:
    """AWS errors, missing credentials and an unreachable server are reported by ``nimbus.cli.main``."""
    fh = client("firehose", args)
    # DescribeDeliveryStream first: it names an unknown stream clearly, and it loads the Firehose
    # service (and so its /_nimbus/firehose endpoints) on a server that has just started
    desc = fh.describe_delivery_stream(DeliveryStreamName=args.name)["DeliveryStreamDescription"]
    region = fh.meta.region_name
    base = endpoint_url(getattr(args, "endpoint_url", None)).rstrip("/")
    if args.firehose_command == "flush":
        return _flush(base, region, args.name)
    return _describe(base, region, desc, as_json=args.json)


def _flush(base: str, region: str, name: str) -> int:
    url = f"{base}/_nimbus/firehose/flush/{urllib.parse.quote(region, safe='')}/{urllib.parse.quote(name, safe='')}"
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=FLUSH_TIMEOUT_S) as r:
            body = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = _json(e.read())
        if e.code == 504:
            print(f"nimbus firehose: {name}: not delivered within the server's timeout (destination down? see `nimbus firehose describe {name}`)", file=sys.stderr)
        else:
            print(f"nimbus firehose: {name}: {body.get('message') or f'HTTP {e.code}'}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError) as e:
        print(f"nimbus firehose: {url}: {e}", file=sys.stderr)
        return 1
    if not body.get("flushed"):
        print(f"nimbus firehose: {name}: not flushed: {body}", file=sys.stderr)
        return 1
    print(f"flushed {name} ({time.monotonic() - started:.2f} s)")
    return 0


def _stats(base: str, key: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/_nimbus/firehose/streams", timeout=30) as r:
            all_stats = json.loads(r.read())
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None
    found = all_stats.get(key)
    return found if isinstance(found, dict) else None


def _describe(base: str, region: str, desc: dict[str, Any], *, as_json: bool) -> int:
    account = str(desc["DeliveryStreamARN"]).split(":")[4]
    stats = _stats(base, f"{account}/{region}/{desc['DeliveryStreamName']}")
    if as_json:
        print(json.dumps({"description": desc, "stats": stats}, indent=2, default=_default))
        return 0
    for label, value in lines(desc, stats):
        print(f"{label:<17}{value}")
    return 0


def lines(desc: dict[str, Any], stats: dict[str, Any] | None, now: float | None = None) -> list[tuple[str, str]]:
    """The human-readable view: (label, value) pairs."""
    now = time.time() if now is None else now
    out: list[tuple[str, str]] = [
        ("Delivery stream", f"{desc['DeliveryStreamName']} ({desc['DeliveryStreamStatus']}, {desc['DeliveryStreamType']}, version {desc['VersionId']})"),
        ("ARN", str(desc["DeliveryStreamARN"])),
        ("Created", _when(desc.get("CreateTimestamp"), now)),
    ]
    src = (desc.get("Source") or {}).get("KinesisStreamSourceDescription")
    if src:
        out.append(("Source", f"{src['KinesisStreamARN']} since {_when(src.get('DeliveryStartTimestamp'), now)}"))
    dests = desc.get("Destinations") or [{}]
    http = dests[0].get("HttpEndpointDestinationDescription")
    dest = http or next((d.get("ExtendedS3DestinationDescription") or d.get("S3DestinationDescription") for d in dests), None) or {}
    size_mb = int((dest.get("BufferingHints") or {}).get("SizeInMBs", 5))
    interval = (dest.get("BufferingHints") or {}).get("IntervalInSeconds", 300)
    if http:
        endpoint = http.get("EndpointConfiguration") or {}
        encoding = (http.get("RequestConfiguration") or {}).get("ContentEncoding", "NONE")
        out.append(("Destination", f"{endpoint.get('Url')} ({endpoint.get('Name') or 'HTTP endpoint'}, {encoding}; "
                                   f"retries for {(http.get('RetryOptions') or {}).get('DurationInSeconds', 300)} s)"))
        backup = http.get("S3DestinationDescription") or {}
        if backup:
            out.append(("Backup", f"s3://{str(backup.get('BucketARN', '')).split(':::')[-1]}/{backup.get('Prefix') or ''} "
                                  f"({http.get('S3BackupMode', 'FailedDataOnly')})"))
    elif dest:
        bucket = str(dest.get("BucketARN", "")).split(":::")[-1]
        out.append(("Destination", f"s3://{bucket}/{dest.get('Prefix') or ''} ({dest.get('CompressionFormat', 'UNCOMPRESSED')})"))
    if dest:
        out.append(("Buffering hints", f"{size_mb} MB / {interval} s"))
        pc = dest.get("ProcessingConfiguration") or {}
        for p in (pc.get("Processors") or []) if pc.get("Enabled") else []:
            params = {x["ParameterName"]: x["ParameterValue"] for x in p.get("Parameters") or []}
            if p.get("Type") == "Lambda":
                out.append(("Transform", f"Lambda {params.get('LambdaArn')} (retries {params.get('NumberOfRetries', '3')}, "
                                         f"{params.get('BufferSizeInMBs', '1')} MB / {params.get('BufferIntervalInSeconds', '60')} s)"))
            else:
                out.append(("Processor", str(p.get("Type"))))
    if stats is None:
        out.append(("Counters", "not available (the stream is not running on this server yet)"))
        return out
    pending = int(stats.get("pending_bytes") or 0)
    cap = size_mb * 1024 * 1024
    out.append(("Buffer fill", f"{_size(pending)} of {size_mb} MB ({100.0 * pending / cap:.1f}%), {stats.get('backlog_records', 0)} records not yet delivered"))
    if stats.get("untransformed_bytes") or stats.get("staged_records"):
        out.append(("", f"{_size(int(stats.get('untransformed_bytes') or 0))} waiting for the transform, "
                        f"{stats.get('staged_records', 0)} transformed records waiting for S3"))
    out.append(("Incoming", f"{stats.get('incoming_records', 0)} records, {_size(int(stats.get('incoming_bytes') or 0))}"))
    out.append(("Delivered", f"{stats.get('delivered_records', 0)} records, {_size(int(stats.get('delivered_bytes') or 0))} in "
                             f"{stats.get('objects', 0)} objects" + (f"; {stats['backup_records']} records backed up" if stats.get("backup_records") else "")))
    last = stats.get("last_delivery_ms")
    out.append(("Last delivery", "never" if last is None else f"{_when(last / 1000, now)}, data freshness {float(stats.get('data_freshness_s') or 0):.1f} s"))
    if stats.get("transform_invocations"):
        n = int(stats["transform_invocations"])
        out.append(("Transform calls", f"{n} invocations ({float(stats.get('transform_ms') or 0) / n:.0f} ms avg): {stats.get('transform_ok', 0)} Ok, "
                                       f"{stats.get('transform_dropped', 0)} Dropped, {stats.get('transform_failed', 0)} failed"))
    out.append(("Errors", f"{stats.get('delivery_failures', 0)} delivery failures, {stats.get('expired_records', 0)} expired records, "
                          f"{stats.get('transform_failed', 0)} records failed processing"
                          + (f", {stats['throttled_records']} records refused by the quota (Slow down.)" if stats.get("throttled_records") else "")))
    out.append(("Last error", str(stats.get("last_error") or "none")))
    for shard, pos in sorted((stats.get("kinesis_positions") or {}).items()):
        out.append(("Kinesis shard", f"{shard}: read up to {pos.get('seq')}" + (" (closed, done)" if pos.get("done") else "")))
    return out


def _when(value: Any, now: float) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        ts = value.timestamp()
    else:
        ts = float(value)
    iso = dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{iso} ({max(now - ts, 0):.0f} s ago)"


def _size(n: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return o.isoformat()
    return str(o)
