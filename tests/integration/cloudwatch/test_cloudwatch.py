"""CloudWatch against a real server: boto3 (awsJson 1.0, what botocore 1.44 picks), RPC v2 CBOR (raw and
botocore's own), the query protocol (raw; Debian's AWS CLI v2.9 when installed), metric arithmetic on known data, validation errors, a function publishing
its own metric from inside Nimbus, AWS/Lambda and AWS/Kinesis metrics, alarms, and kill -9 durability."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nimbus.protocol.cbor import dumps, loads
from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess
from tests.integration.lambda_.functions import create

UTC = dt.timezone.utc
ENV = {"NIMBUS_CLOUDWATCH_FLUSH_S": "0.5", "NIMBUS_CLOUDWATCH_ALARM_S": "0.5"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    proc = NimbusProcess(tmp_path_factory.mktemp("cw") / "data", env=ENV).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def cw(server: NimbusProcess) -> Any:
    return server.client("cloudwatch")


def _minute(offset_minutes: int = 0) -> dt.datetime:
    now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    return now - dt.timedelta(minutes=10) + dt.timedelta(minutes=offset_minutes)


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def test_put_and_statistics_arithmetic(cw: Any) -> None:
    t0 = _minute()
    dims = [{"Name": "Service", "Value": "checkout"}]
    cw.put_metric_data(Namespace="App", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0, "Value": 10.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0 + dt.timedelta(seconds=20), "Value": 30.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0 + dt.timedelta(minutes=1), "Values": [1.0, 2.0, 3.0],
         "Counts": [1.0, 1.0, 2.0], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": t0 + dt.timedelta(minutes=2),
         "StatisticValues": {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 50}, "Unit": "Milliseconds"},
    ])
    out = cw.get_metric_statistics(
        Namespace="App", MetricName="Latency", Dimensions=dims, StartTime=t0, EndTime=t0 + dt.timedelta(minutes=3), Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"], ExtendedStatistics=["p50"],
    )
    points = sorted(out["Datapoints"], key=lambda p: p["Timestamp"])
    assert out["Label"] == "Latency" and [p["Timestamp"] for p in points] == [t0 + dt.timedelta(minutes=i) for i in range(3)]
    first, second, third = points
    assert (first["SampleCount"], first["Sum"], first["Average"], first["Minimum"], first["Maximum"]) == (2, 40, 20, 10, 30)
    assert first["Unit"] == "Milliseconds" and first["ExtendedStatistics"]["p50"] == 10
    assert (second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"]) == (4, 9, 1, 3)
    assert second["ExtendedStatistics"]["p50"] == 2
    assert (third["SampleCount"], third["Sum"], third["Average"]) == (4, 100, 25)
    assert "p50" not in third["ExtendedStatistics"]  # a StatisticSet carries no values to rank
    # a 3-minute period merges all three
    whole = cw.get_metric_statistics(Namespace="App", MetricName="Latency", Dimensions=dims, StartTime=t0,
                                     EndTime=t0 + dt.timedelta(minutes=3), Period=180, Statistics=["Sum", "SampleCount", "Maximum"])
    assert [(p["Sum"], p["SampleCount"], p["Maximum"]) for p in whole["Datapoints"]] == [(149, 10, 50)]
    # another unit, or other dimensions, is another answer
    assert cw.get_metric_statistics(Namespace="App", MetricName="Latency", Dimensions=dims, StartTime=t0,
                                    EndTime=t0 + dt.timedelta(minutes=3), Period=60, Statistics=["Sum"], Unit="Seconds")["Datapoints"] == []
    assert cw.get_metric_statistics(Namespace="App", MetricName="Latency", StartTime=t0,
                                    EndTime=t0 + dt.timedelta(minutes=3), Period=60, Statistics=["Sum"])["Datapoints"] == []


def test_values_counted_zero_times_are_not_observed(cw: Any) -> None:
    t0 = _minute()
    cw.put_metric_data(Namespace="Zero", MetricData=[{"MetricName": "z", "Timestamp": t0, "Values": [1.0, 100.0], "Counts": [3.0, 0.0]}])
    point = cw.get_metric_statistics(Namespace="Zero", MetricName="z", StartTime=t0, EndTime=t0 + dt.timedelta(minutes=1), Period=60,
                                     Statistics=["Maximum", "SampleCount"])["Datapoints"][0]
    assert (point["Maximum"], point["SampleCount"]) == (1.0, 3.0)


def test_get_metric_data_with_math_and_paging(cw: Any) -> None:
    t0 = _minute()
    data = []
    for i in range(5):
        data.append({"MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": "a"}], "Timestamp": t0 + dt.timedelta(minutes=i), "Value": float(i)})
        data.append({"MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": "b"}], "Timestamp": t0 + dt.timedelta(minutes=i), "Value": 10.0})
    cw.put_metric_data(Namespace="Math", MetricData=data)

    def stat(host: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "Math", "MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": host}]}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "a", "MetricStat": stat("a"), "ReturnData": False},
        {"Id": "b", "MetricStat": stat("b")},
        {"Id": "total", "Expression": "a + b", "Label": "Total"},
        {"Id": "both", "Expression": "SUM(METRICS())"},
        {"Id": "ratio", "Expression": "a / b * 100"},
        {"Id": "peak", "Expression": "MAX(a)"},
    ]
    out = cw.get_metric_data(MetricDataQueries=queries, StartTime=t0, EndTime=t0 + dt.timedelta(minutes=5), ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert "a" not in results
    assert results["b"]["Values"] == [10.0] * 5 and results["b"]["Label"] == "Hits"
    assert results["total"]["Values"] == [10.0, 11.0, 12.0, 13.0, 14.0] and results["total"]["Label"] == "Total"
    assert results["both"]["Values"] == results["total"]["Values"]
    assert results["ratio"]["Values"] == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert results["peak"]["Values"] == [4.0] * 5
    assert results["total"]["Timestamps"][0] == t0 and all(r["StatusCode"] == "Complete" for r in results.values())
    newest_first = cw.get_metric_data(MetricDataQueries=queries[:2], StartTime=t0, EndTime=t0 + dt.timedelta(minutes=5))
    assert newest_first["MetricDataResults"][0]["Values"] == [10.0] * 5
    assert newest_first["MetricDataResults"][0]["Timestamps"][0] == t0 + dt.timedelta(minutes=4)
    # paging: 3 datapoints a page
    seen: list[float] = []
    token = None
    for _ in range(10):
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(MetricDataQueries=queries[:3], StartTime=t0, EndTime=t0 + dt.timedelta(minutes=5),
                                  MaxDatapoints=3, ScanBy="TimestampAscending", **kw)
        for r in page["MetricDataResults"]:
            seen.extend(r["Values"])
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted([10.0] * 5 + [10.0, 11.0, 12.0, 13.0, 14.0])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.get_metric_data(MetricDataQueries=[{"Id": "x", "Expression": "ANOMALY_DETECTION_BAND(m1)"}],
                           StartTime=t0, EndTime=t0 + dt.timedelta(minutes=5))
    assert info.value.response["Error"]["Code"] == "ValidationError"


def test_list_metrics_filters(cw: Any) -> None:
    cw.put_metric_data(Namespace="Lister", MetricData=[
        {"MetricName": "A", "Dimensions": [{"Name": "Env", "Value": "prod"}, {"Name": "Az", "Value": "1"}], "Value": 1},
        {"MetricName": "A", "Dimensions": [{"Name": "Env", "Value": "dev"}], "Value": 1},
        {"MetricName": "B", "Value": 1},
    ])
    everything = cw.list_metrics(Namespace="Lister")["Metrics"]
    assert len(everything) == 3
    assert {m["MetricName"] for m in cw.list_metrics(Namespace="Lister", MetricName="A")["Metrics"]} == {"A"}
    prod = cw.list_metrics(Namespace="Lister", Dimensions=[{"Name": "Env", "Value": "prod"}])["Metrics"]
    assert len(prod) == 1 and {d["Name"] for d in prod[0]["Dimensions"]} == {"Env", "Az"}
    assert len(cw.list_metrics(Namespace="Lister", Dimensions=[{"Name": "Env"}])["Metrics"]) == 2
    assert len(cw.list_metrics(Namespace="Lister", RecentlyActive="PT3H")["Metrics"]) == 3
    paginated = [m for page in cw.get_paginator("list_metrics").paginate(Namespace="Lister") for m in page["Metrics"]]
    assert len(paginated) == 3
    for token in ("nope", "WzFd", "eyJvIjoxfQ"):  # not base64 JSON, [1], {"o":1}
        with pytest.raises(cw.exceptions.InvalidNextToken):
            cw.list_metrics(NextToken=token)
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.get_metric_data(MetricDataQueries=[{"Id": "m", "Expression": "1"}], StartTime=_minute(), EndTime=_minute(1), NextToken="WzFd")


@pytest.mark.parametrize(
    ("datum", "code"),
    [
        ({"MetricName": "m", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}, "InvalidParameterCombination"),
        ({"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1, "Timestamp": dt.datetime(2020, 1, 1, tzinfo=UTC)}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1, "Timestamp": dt.datetime.now(UTC) + dt.timedelta(hours=3)}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1, "StorageResolution": 5}, "InvalidParameterValue"),
        ({"MetricName": "m", "Value": 1, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}, "ValidationError"),
    ],
)
def test_put_metric_data_validation(cw: Any, datum: dict[str, Any], code: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.put_metric_data(Namespace="Bad", MetricData=[datum])
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_full_gzipped_batch(cw: Any) -> None:
    when = _minute()
    data = [{"MetricName": "Bulk", "Dimensions": [{"Name": "Shard", "Value": str(i % 100)}], "Value": float(i), "Timestamp": when}
            for i in range(1000)]  # ~100 KB: botocore gzips it (requestcompression); 100 buckets: written off the loop
    cw.put_metric_data(Namespace="Bulk", MetricData=data)
    shard7 = cw.get_metric_statistics(Namespace="Bulk", MetricName="Bulk", Dimensions=[{"Name": "Shard", "Value": "7"}], StartTime=when,
                                      EndTime=when + dt.timedelta(minutes=1), Period=60, Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert [(p["Sum"], p["SampleCount"]) for p in shard7] == [(sum(range(7, 1000, 100)), 10)]
    assert len([m for page in cw.get_paginator("list_metrics").paginate(Namespace="Bulk") for m in page["Metrics"]]) == 100


def test_put_metric_data_limits(cw: Any) -> None:
    too_many = [{"MetricName": "m", "Value": 1.0}] * 1001
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.put_metric_data(Namespace="Bad", MetricData=too_many)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "m", "Value": 1.0}])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.get_metric_statistics(Namespace="App", MetricName="Latency", StartTime=_minute(), EndTime=_minute(1), Period=61, Statistics=["Sum"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.get_metric_statistics(Namespace="App", MetricName="Latency", StartTime=_minute(), EndTime=_minute(10), Period=60)
    assert info.value.response["Error"]["Code"] == "MissingParameter"


def _signed(server: NimbusProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = AWSRequest("POST", server.endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "monitoring", "us-east-1").add_auth(request)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", path, body, dict(request.headers.items()))
    response = conn.getresponse()
    out = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    conn.close()
    return out


def test_rpc_v2_cbor_on_the_wire(server: NimbusProcess) -> None:
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    path = "/service/GraniteServiceVersion20100801/operation/"
    now = dt.datetime.now(UTC).replace(microsecond=0)
    body = dumps({"Namespace": "Cbor", "MetricData": [{"MetricName": "m", "Value": 4.5, "Timestamp": now}]})
    status, got, raw = _signed(server, path + "PutMetricData", body, headers)
    assert status == 200 and raw == b"" and got["smithy-protocol"] == "rpc-v2-cbor"
    status, got, raw = _signed(server, path + "ListMetrics", dumps({"Namespace": "Cbor"}), headers)
    assert status == 200 and got["content-type"] == "application/cbor"
    assert loads(raw)["Metrics"] == [{"Namespace": "Cbor", "MetricName": "m", "Dimensions": []}]
    status, got, raw = _signed(server, path + "PutMetricData", dumps({"Namespace": "AWS/X", "MetricData": [{"MetricName": "m", "Value": 1.0}]}), headers)
    error = loads(raw)
    assert status == 400 and error["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
    assert got["x-amzn-query-error"] == "InvalidParameterValue;Sender" and "AWS/X" in error["message"]
    status, _, _ = _signed(server, path + "NoSuchOperation", b"", headers)
    assert status == 404


def test_boto3_over_rpc_v2_cbor(server: NimbusProcess, tmp_path: Path) -> None:
    """botocore itself speaking RPC v2 CBOR (what it picks once it ranks the protocol first): the model with
    ``protocols`` narrowed to it, loaded from a data path of the test's own."""
    import boto3
    import botocore.loaders
    import botocore.session

    model = botocore.loaders.create_loader().load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    target = tmp_path / "models" / "cloudwatch" / model["metadata"]["apiVersion"]
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    core = botocore.session.get_session()
    core.set_config_variable("data_path", str(tmp_path / "models"))
    cw = boto3.Session(botocore_session=core).client(
        "cloudwatch", region_name="us-east-1", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    assert cw.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    sent: list[str] = []
    cw.meta.events.register("before-send", lambda request, **_: sent.append(request.url) and None)
    when = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    cw.put_metric_data(Namespace="ViaCbor", MetricData=[
        {"MetricName": "Size", "Value": 3.0, "Timestamp": when, "Unit": "Bytes", "StorageResolution": 1},
        {"MetricName": "Size", "Values": [1.0, 5.0], "Timestamp": when + dt.timedelta(seconds=1), "Unit": "Bytes"},
    ])
    out = cw.get_metric_data(
        MetricDataQueries=[{"Id": "s", "MetricStat": {"Metric": {"Namespace": "ViaCbor", "MetricName": "Size"}, "Period": 60, "Stat": "Sum"}},
                           {"Id": "twice", "Expression": "s * 2"}],
        StartTime=when, EndTime=when + dt.timedelta(minutes=1),
    )
    assert [(r["Id"], r["Values"], r["Timestamps"]) for r in out["MetricDataResults"]] == [("s", [9.0], [when]), ("twice", [18.0], [when])]
    second = cw.get_metric_statistics(Namespace="ViaCbor", MetricName="Size", StartTime=when, EndTime=when + dt.timedelta(seconds=10),
                                      Period=1, Statistics=["Sum"])["Datapoints"]
    assert [(p["Timestamp"], p["Sum"]) for p in second] == [(when, 3.0)]  # only the high-resolution datum has seconds
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as info:
        cw.put_metric_data(Namespace="AWS/S3", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName="none", StateValue="OK", StateReason="x")
    assert sent and all("/service/GraniteServiceVersion20100801/operation/" in url for url in sent)


def test_query_protocol_on_the_wire(server: NimbusProcess) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    put = b"Action=PutMetricData&Version=2010-08-01&Namespace=Query&MetricData.member.1.MetricName=m&MetricData.member.1.Value=3"
    status, _, raw = _signed(server, "/", put, form)
    assert status == 200 and b"<PutMetricDataResponse" in raw
    status, _, raw = _signed(server, "/", b"Action=ListMetrics&Version=2010-08-01&Namespace=Query", form)
    assert status == 200 and b"<ListMetricsResult>" in raw and b"<MetricName>m</MetricName>" in raw
    status, _, raw = _signed(server, "/", put.replace(b"Namespace=Query", b"Namespace=AWS/Query"), form)
    assert status == 400 and b"<Code>InvalidParameterValue</Code>" in raw and b"<ErrorResponse" in raw


def test_aws_cli(server: NimbusProcess) -> None:
    """The AWS CLI v1 of the venv (botocore 1.43: awsJson 1.0 with x-amzn-query-mode)."""
    server.aws("cloudwatch", "put-metric-data", "--namespace", "Cli", "--metric-name", "Jobs", "--value", "7", "--unit", "Count")
    listed = json.loads(server.aws("cloudwatch", "list-metrics", "--namespace", "Cli").stdout)
    assert [m["MetricName"] for m in listed["Metrics"]] == ["Jobs"]
    start = (dt.datetime.now(UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (dt.datetime.now(UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stats = json.loads(server.aws("cloudwatch", "get-metric-statistics", "--namespace", "Cli", "--metric-name", "Jobs",
                                  "--start-time", start, "--end-time", end, "--period", "600", "--statistics", "Sum").stdout)
    assert [p["Sum"] for p in stats["Datapoints"]] == [7.0]
    bad = server.aws("cloudwatch", "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "x", "--value", "1", check=False)
    assert bad.returncode != 0 and "InvalidParameterValue" in bad.stderr


def test_aws_cli_v2(server: NimbusProcess) -> None:
    """Whatever v2 is installed (Debian's 2.9 speaks the query protocol to CloudWatch, current ones JSON)."""
    from tests.integration.cli import test_awscli_v2 as v2

    if v2.AWS2 is None:
        pytest.skip("AWS CLI v2 is not installed")
    v2.aws(server, "cloudwatch", "put-metric-data", "--region", "us-east-1", "--namespace", "Cli2", "--metric-name", "Runs",
           "--value", "2", "--dimensions", "Job=nightly")
    listed = json.loads(v2.aws(server, "cloudwatch", "list-metrics", "--region", "us-east-1", "--namespace", "Cli2", "--output", "json"))
    assert listed["Metrics"] == [{"Namespace": "Cli2", "MetricName": "Runs", "Dimensions": [{"Name": "Job", "Value": "nightly"}]}]


PUBLISHER = """
import boto3

def handler(event, context):
    boto3.client("cloudwatch").put_metric_data(
        Namespace="FromLambda",
        MetricData=[{"MetricName": "Orders", "Value": event["orders"], "Unit": "Count",
                     "Dimensions": [{"Name": "Shop", "Value": "main"}]}],
    )
    return {"ok": True}
"""


def test_function_publishes_metrics_and_aws_lambda_metrics_appear(server: NimbusProcess, cw: Any) -> None:
    lam = server.client("lambda")
    create(lam, "cw-publisher", PUBLISHER, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName="cw-publisher")
    for orders in (3, 4):
        result = lam.invoke(FunctionName="cw-publisher", Payload=json.dumps({"orders": orders}).encode())
        assert "FunctionError" not in result, result["Payload"].read()
    start, end = dt.datetime.now(UTC) - dt.timedelta(minutes=5), dt.datetime.now(UTC) + dt.timedelta(minutes=2)
    orders = cw.get_metric_statistics(Namespace="FromLambda", MetricName="Orders", Dimensions=[{"Name": "Shop", "Value": "main"}],
                                      StartTime=start, EndTime=end, Period=600, Statistics=["Sum", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"]) for p in orders["Datapoints"]] == [(7.0, 2.0)]
    fn = [{"Name": "FunctionName", "Value": "cw-publisher"}]

    def invocations() -> Any:
        out = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=fn, StartTime=start,
                                       EndTime=end, Period=600, Statistics=["Sum"])
        return out["Datapoints"] if out["Datapoints"] and out["Datapoints"][0]["Sum"] == 2 else None

    assert wait_for(invocations)[0]["Unit"] == "Count"
    errors = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", Dimensions=fn, StartTime=start, EndTime=end,
                                      Period=600, Statistics=["Sum", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"]) for p in errors["Datapoints"]] == [(0.0, 2.0)]
    duration = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=fn, StartTime=start, EndTime=end,
                                        Period=600, Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p99"])
    point = duration["Datapoints"][0]
    assert point["SampleCount"] == 2 and point["Unit"] == "Milliseconds"
    assert point["ExtendedStatistics"]["p99"] == pytest.approx(point["Maximum"], abs=0.01)  # values kept to 0.01 ms
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/Lambda", Dimensions=fn)["Metrics"]}
    assert {"Invocations", "Errors", "Duration", "Throttles", "ConcurrentExecutions"} <= names


def test_kinesis_metrics(server: NimbusProcess, cw: Any) -> None:
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="cw-stream", ShardCount=1)
    wait_for(lambda: kinesis.describe_stream_summary(StreamName="cw-stream")["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
    kinesis.put_record(StreamName="cw-stream", Data=b"12345", PartitionKey="k")
    kinesis.put_records(StreamName="cw-stream", Records=[{"Data": b"ab", "PartitionKey": "k"}] * 3)
    shard = kinesis.list_shards(StreamName="cw-stream")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="cw-stream", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(kinesis.get_records(ShardIterator=iterator)["Records"]) == 4
    start, end = dt.datetime.now(UTC) - dt.timedelta(minutes=5), dt.datetime.now(UTC) + dt.timedelta(minutes=2)
    dims = [{"Name": "StreamName", "Value": "cw-stream"}]

    def total(name: str) -> float | None:
        out = cw.get_metric_statistics(Namespace="AWS/Kinesis", MetricName=name, Dimensions=dims, StartTime=start, EndTime=end,
                                       Period=600, Statistics=["Sum"])
        return out["Datapoints"][0]["Sum"] if out["Datapoints"] else None

    wait_for(lambda: total("GetRecords.Records") == 4)
    assert total("IncomingRecords") == 4
    assert total("PutRecords.SuccessfulRecords") == 3
    assert total("PutRecord.Bytes") == 5


def test_firehose_metrics(server: NimbusProcess, cw: Any) -> None:
    from tests.integration.firehose.test_firehose import create, objects

    s3, fh = server.client("s3"), server.client("firehose")
    s3.create_bucket(Bucket="cw-firehose")
    name = create(fh, "cw-firehose", "cw-delivery", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 1})
    fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"abcd"}] * 5)
    wait_for(lambda: objects(s3, "cw-firehose"))
    start, end = dt.datetime.now(UTC) - dt.timedelta(minutes=5), dt.datetime.now(UTC) + dt.timedelta(minutes=2)
    dims = [{"Name": "DeliveryStreamName", "Value": name}]

    def stat(metric: str, statistic: str = "Sum") -> float | None:
        out = cw.get_metric_statistics(Namespace="AWS/Firehose", MetricName=metric, Dimensions=dims, StartTime=start, EndTime=end,
                                       Period=600, Statistics=[statistic])
        return out["Datapoints"][0][statistic] if out["Datapoints"] else None

    wait_for(lambda: stat("DeliveryToS3.Records") == 5)
    assert stat("IncomingRecords") == 5 and stat("IncomingBytes") == 20
    assert stat("DeliveryToS3.Success", "Average") == 1.0 and (stat("DeliveryToS3.Bytes") or 0) > 0


def test_logs_metric_filters_publish_metrics(server: NimbusProcess, cw: Any) -> None:
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/app/orders")
    logs.create_log_stream(logGroupName="/app/orders", logStreamName="s")
    logs.put_metric_filter(logGroupName="/app/orders", filterName="latency", filterPattern="[verb, ms]",
                           metricTransformations=[{"metricName": "OrderMs", "metricNamespace": "FromLogs", "metricValue": "$ms",
                                                   "unit": "Milliseconds", "dimensions": {"Verb": "$verb"}}])
    now_ms = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/orders", logStreamName="s",
                        logEvents=[{"timestamp": now_ms, "message": m} for m in ("GET 10", "GET 30", "PUT 5")])
    start, end = dt.datetime.now(UTC) - dt.timedelta(minutes=5), dt.datetime.now(UTC) + dt.timedelta(minutes=2)

    def get() -> Any:
        out = cw.get_metric_statistics(Namespace="FromLogs", MetricName="OrderMs", Dimensions=[{"Name": "Verb", "Value": "GET"}],
                                       StartTime=start, EndTime=end, Period=600, Statistics=["Sum", "SampleCount", "Maximum"])
        return out["Datapoints"]

    point = wait_for(get)[0]
    assert (point["Sum"], point["SampleCount"], point["Maximum"], point["Unit"]) == (40.0, 2.0, 30.0, "Milliseconds")


def test_alarm_goes_to_alarm_and_back(cw: Any) -> None:
    # two periods of a minute, one breach enough: the datum stays in the window across a minute boundary
    dims = [{"Name": "Queue", "Value": "q1"}]
    cw.put_metric_alarm(AlarmName="depth-high", Namespace="Alarmed", MetricName="Depth", Dimensions=dims, Statistic="Maximum",
                        Period=60, EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=10, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=["arn:aws:sns:us-east-1:000000000000:ops"], Tags=[{"Key": "team", "Value": "ops"}])
    alarm = cw.describe_alarms(AlarmNames=["depth-high"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA" and alarm["AlarmArn"].endswith(":alarm:depth-high")
    cw.put_metric_data(Namespace="Alarmed", MetricData=[{"MetricName": "Depth", "Dimensions": dims, "Value": 50}])

    def state(expected: str) -> Any:
        found = cw.describe_alarms(AlarmNames=["depth-high"])["MetricAlarms"][0]
        return found if found["StateValue"] == expected else None

    arn = alarm["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(cw.exceptions.ResourceNotFoundException):
        cw.list_tags_for_resource(ResourceARN=arn + "-nope")
    alarmed = wait_for(lambda: state("ALARM"))
    assert "was greater than the threshold (10.0)" in alarmed["StateReason"] and "[50.0 (" in alarmed["StateReason"]
    assert [a["AlarmName"] for a in cw.describe_alarms_for_metric(Namespace="Alarmed", MetricName="Depth", Dimensions=dims)["MetricAlarms"]] == ["depth-high"]
    history = cw.describe_alarm_history(AlarmName="depth-high")["AlarmHistoryItems"]
    assert {"StateUpdate", "Action", "ConfigurationUpdate"} <= {h["HistoryItemType"] for h in history}
    cw.set_alarm_state(AlarmName="depth-high", StateValue="OK", StateReason="by hand")
    wait_for(lambda: state("ALARM"))  # the next evaluation puts it back: the data still breaches
    assert cw.describe_alarms(StateValue="ALARM")["MetricAlarms"][0]["AlarmName"] == "depth-high"
    cw.delete_alarms(AlarmNames=["depth-high"])
    assert cw.describe_alarms(AlarmNames=["depth-high"])["MetricAlarms"] == []
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName="depth-high", StateValue="OK", StateReason="x")


def test_dashboards(cw: Any) -> None:
    body = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "hi"}}]})
    assert cw.put_dashboard(DashboardName="ops", DashboardBody=body)["DashboardValidationMessages"] == []
    cw.put_dashboard(DashboardName="ops-2", DashboardBody="{}")
    got = cw.get_dashboard(DashboardName="ops")
    assert got["DashboardBody"] == body and got["DashboardArn"] == "arn:aws:cloudwatch::000000000000:dashboard/ops"
    listed = cw.list_dashboards(DashboardNamePrefix="ops")["DashboardEntries"]
    assert [(d["DashboardName"], d["Size"]) for d in listed] == [("ops", len(body)), ("ops-2", 2)]
    with pytest.raises(cw.exceptions.DashboardInvalidInputError):
        cw.put_dashboard(DashboardName="bad", DashboardBody="not json")
    with pytest.raises(cw.exceptions.ResourceNotFound):  # DashboardNotFoundError shares its query code
        cw.delete_dashboards(DashboardNames=["ops", "missing"])
    cw.delete_dashboards(DashboardNames=["ops", "ops-2"])
    with pytest.raises(cw.exceptions.ResourceNotFound):  # DashboardNotFoundError shares its query code
        cw.get_dashboard(DashboardName="ops")


def test_put_metric_data_survives_kill_9(tmp_path: Path) -> None:
    proc = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        cw = proc.client("cloudwatch")
        when = dt.datetime.now(UTC).replace(second=0, microsecond=0)
        cw.put_metric_data(Namespace="Durable", MetricData=[{"MetricName": "Kept", "Value": 42.0, "Timestamp": when}])
        proc.kill9()
        proc.start()
        cw = proc.client("cloudwatch")
        out = cw.get_metric_statistics(Namespace="Durable", MetricName="Kept", StartTime=when, EndTime=when + dt.timedelta(minutes=1),
                                       Period=60, Statistics=["Sum"])
        assert [p["Sum"] for p in out["Datapoints"]] == [42.0]
    finally:
        proc.stop()
