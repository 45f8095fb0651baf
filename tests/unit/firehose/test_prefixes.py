from datetime import datetime, timezone

import pytest

from nimbus.services.firehose.prefixes import Layout, PrefixError, format_java, parse, validate

# 2018-08-27 10:30:05.123 UTC
T = int(datetime(2018, 8, 27, 10, 30, 5, 123000, tzinfo=timezone.utc).timestamp() * 1000)
DT = datetime(2018, 8, 27, 10, 30, 5, 123000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("yyyy/MM/dd/HH/", "2018/08/27/10/"),
        ("yy-M-d H:m:s", "18-8-27 10:30:5"),
        ("'year='yyyy'/month='MM", "year=2018/month=08"),
        ("yyyy''MM", "2018'08"),
        ("DDD", "239"),
        ("MMM MMMM EEE EEEE", "Aug August Mon Monday"),
        ("hh a", "10 AM"),
        ("SSS", "123"),
        ("uuuu-MM-dd'T'HH:mm:ssX", "2018-08-27T10:30:05Z"),
        ("Z", "+0000"),
        ("[yyyy]", "2018"),
    ],
)
def test_java_patterns(pattern: str, expected: str) -> None:
    assert format_java(pattern, DT) == expected


@pytest.mark.parametrize("pattern", ["yyyy/bb", "'open", "ddd", "yyyy#", "HHH"])
def test_bad_java_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PrefixError):
        parse(f"!{{timestamp:{pattern}}}")


def test_default_layout_appends_timestamp_by_concatenation() -> None:
    assert Layout(None, None).prefix(T) == "2018/08/27/10/"
    assert Layout("logs/", None).prefix(T) == "logs/2018/08/27/10/"
    assert Layout("logs", None).prefix(T) == "logs2018/08/27/10/"
    assert Layout("myFirehosePrefix/", None).error_prefix(T, "processing-failed") == "myFirehosePrefix/processing-failed/2018/08/27/10/"


def test_doc_examples() -> None:
    lay = Layout(None, "myFirehoseFailures/!{firehose:error-output-type}/")
    assert lay.prefix(T) == "2018/08/27/10/"
    assert lay.error_prefix(T, "processing-failed") == "myFirehoseFailures/processing-failed/"
    lay = Layout(
        "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
        "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}",
    )
    p = lay.prefix(T)
    assert p.startswith("myFirehose/DeliveredYear=2018/anyMonth/rand=") and len(p) == len("myFirehose/DeliveredYear=2018/anyMonth/rand=") + 11
    assert lay.error_prefix(T, "processing-failed") == "myFirehoseFailures/processing-failed/2018/anyMonth/27"
    lay = Layout(
        "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
        "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
    )
    assert lay.prefix(T) == "myPrefix/year=2018/month=08/day=27/hour=10/"
    assert lay.error_prefix(T, "processing-failed") == "myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed"


def test_random_string_is_fresh_per_use() -> None:
    lay = Layout("!{firehose:random-string}/!{firehose:random-string}/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}")
    a, b, _ = lay.prefix(T).split("/", 2)
    assert len(a) == len(b) == 11 and a != b


def test_time_zone_and_object_name() -> None:
    lay = Layout(None, None, time_zone="Asia/Tokyo")
    assert lay.prefix(T) == "2018/08/27/19/"
    name = Layout(None, None).object_name("s", 3, T, "u-u-i-d", ".gz")
    assert name == "s-3-2018-08-27-10-30-05-u-u-i-d.gz"


@pytest.mark.parametrize(
    "prefix,error_prefix,dynamic",
    [
        ("a/!{timestamp:yyyy}/", None, False),  # expressions need an ErrorOutputPrefix
        ("a/!{timestamp:yyyy}/", "", False),
        ("a/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}", False),
        ("a/", "e/!{timestamp:yyyy}/", False),  # expression without error-output-type
        ("a/!{", None, False),
        ("a/!{nope:x}", "e/!{firehose:error-output-type}", False),
        ("a/!{firehose:whatever}", "e/!{firehose:error-output-type}", False),
        ("a/!{timestamp:}", "e/!{firehose:error-output-type}", False),
        ("a/", "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:x}", False),
        ("a/!{partitionKeyFromQuery:x}/", "e/!{firehose:error-output-type}", False),  # keys need DP on
        ("a/", "e/!{firehose:error-output-type}", True),  # DP needs keys in Prefix
        ("a/!{partitionKeyFromLambda:x}/", None, True),
    ],
)
def test_validation_rules(prefix: str, error_prefix: str | None, dynamic: bool) -> None:
    with pytest.raises(PrefixError):
        validate(prefix, error_prefix, dynamic_partitioning=dynamic)


def test_valid_pairs() -> None:
    validate(None, None)
    validate("logs/", "errors/")
    validate("a/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/")
    validate("a/!{partitionKeyFromLambda:c}/", "e/!{firehose:error-output-type}/", dynamic_partitioning=True)


def test_partition_keys_and_length_limit() -> None:
    lay = Layout("c=!{partitionKeyFromLambda:c}/", "e/!{firehose:error-output-type}/", dynamic_partitioning=True)
    assert lay.prefix(T, {"c": "42"}) == "c=42/"
    with pytest.raises(PrefixError):
        lay.prefix(T, {})
    with pytest.raises(PrefixError):
        lay.prefix(T, {"c": "x" * 600})


@pytest.mark.parametrize(
    "prefix,error_prefix,dynamic,message",
    [
        # captured from AWS (the terraform-provider-aws #13416 and serverless #6015 reports), typo included
        (
            "a/!{timestamp:yyyy}/", None, False,
            "Ths supplied prefix(es) do not satisfy the following constraint: "
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
        ),
        # captured from AWS (terraform-provider-aws #29092)
        (
            "a/!{partitionKeyFromQuery:x}/", "e/!{firehose:error-output-type}/", False,
            "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled.",
        ),
    ],
)
def test_validation_messages_are_aws_wording(prefix: str, error_prefix: str | None, dynamic: bool, message: str) -> None:
    with pytest.raises(PrefixError) as e:
        validate(prefix, error_prefix, dynamic_partitioning=dynamic)
    assert str(e.value) == message
