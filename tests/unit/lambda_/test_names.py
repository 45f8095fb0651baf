import pytest

from nimbus.services.lambda_.errors import InvalidParameterValueException
from nimbus.services.lambda_.names import parse_function_ref, version_key


def ref(text: str, q: str | None = None):
    return parse_function_ref(text, region="us-east-1", account="000000000000", qualifier=q)


def test_every_accepted_form() -> None:
    assert ref("fn").arn == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert ref("fn:prod").qualifier == "prod"
    assert ref("123456789012:function:fn:3").account == "123456789012"
    full = ref("arn:aws:lambda:eu-west-1:123456789012:function:fn:$LATEST")
    assert (full.region, full.account, full.name, full.qualifier) == ("eu-west-1", "123456789012", "fn", "$LATEST")
    assert ref("fn", "7").qualified_arn() == "arn:aws:lambda:us-east-1:000000000000:function:fn:7"


def test_conflicts_and_bad_names() -> None:
    with pytest.raises(InvalidParameterValueException):
        ref("fn:1", "2")
    with pytest.raises(InvalidParameterValueException):
        ref("bad name")
    with pytest.raises(InvalidParameterValueException):
        ref("arn:aws:s3:::bucket")


def test_version_keys_sort_latest_first() -> None:
    keys = [version_key(v) for v in ("10", "$LATEST", "2")]
    assert sorted(keys) == [version_key("$LATEST"), version_key("2"), version_key("10")]
