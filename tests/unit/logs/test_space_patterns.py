import pytest

from nimbus.services.logs.filters import PatternError, compile_extractor, compile_pattern
from nimbus.services.logs.space_patterns import split_fields

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534'


def test_fields_split_at_spaces_with_quoted_and_bracketed_runs() -> None:
    assert split_fields(APACHE) == ["127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /apache_pb.gif HTTP/1.0", "404", "1534"]


def test_named_fields_are_extracted_without_their_quotes_or_brackets() -> None:
    extract = compile_extractor("[ip, identity, user_id, timestamp, request, status_code = 4*, size]")
    assert extract(APACHE) == {
        "$ip": "127.0.0.1", "$identity": "-", "$user_id": "frank", "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /apache_pb.gif HTTP/1.0", "$status_code": "404", "$size": "1534",
    }
    assert extract(APACHE.replace(" 404 ", " 200 ")) is None
    assert extract("too few fields") is None


def test_ellipsis_numbers_and_alternatives() -> None:
    assert compile_pattern("[..., status = 4* || status = 5*, bytes > 1000]")(APACHE)
    assert not compile_pattern("[..., status, bytes > 2000]")(APACHE)
    assert compile_pattern("[ip, ..., bytes >= 1534 && bytes < 1535]")(APACHE)
    assert compile_pattern("[ip != 10.*, ...]")(APACHE)
    assert compile_pattern('[..., request = "GET *", status, bytes]')(APACHE)
    assert compile_pattern("[..., request = %apache_pb%, status, bytes]")(APACHE)
    assert compile_pattern("[]")("anything at all")
    assert compile_extractor("[a, ..., z]")("one two three") == {"$a": "one", "$z": "three"}


def test_bad_space_patterns() -> None:
    for bad in ("[a, b", "[a = ]", "[a > x]", "[a, , b]", '[a = "x]'):
        with pytest.raises(PatternError):
            compile_pattern(bad)


def test_json_and_term_extractors() -> None:
    extract = compile_extractor('{ $.level = "ERROR" && $.latency > 100 }')
    assert extract('{"level": "ERROR", "latency": 120}') == {"$.level": "ERROR", "$.latency": "120"}
    assert extract('{"level": "INFO", "latency": 120}') is None
    assert compile_extractor("ERROR")("an ERROR") == {}
    assert compile_extractor("ERROR")("fine") is None
