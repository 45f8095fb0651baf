"""Model patterns written in Java's regex dialect (``\\p{L}``, ``[\\w-_]``) are translated and enforced, matched
against the whole value as AWS matches them; patterns Python already reads are left exactly as they are."""

from __future__ import annotations

import unicodedata

import pytest

from nimbus.errors import ValidationError
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.models import SERVED_SERVICES, load_service_model
from nimbus.protocol.validate import compile_model_pattern, java_pattern

from .test_codec import json_request

FIREHOSE = ServiceProtocol("firehose")


def model_patterns() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for service in SERVED_SERVICES:
        model = load_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                found.setdefault(pattern, []).append(f"{service}:{name}")
    return found


def pattern_of(service: str, shape: str) -> str:
    return str(load_service_model(service).shape_for(shape).metadata["pattern"])


# The served models' patterns Python's re cannot read as written (botocore 1.44): Unicode categories in a
# class, and a class escape before '-'. Every one is now translated; none is left out.
REWRITTEN = {
    ("lambda", "TagKey"), ("lambda", "TagValue"),
    ("logs", "TagKey"), ("logs", "TagValue"), ("logs", "TagFilterKey"), ("logs", "TagFilterValue"), ("logs", "ResourceType"),
    ("firehose", "TagKey"), ("firehose", "TagValue"),
    ("iam", "tagKeyType"), ("iam", "tagValueType"), ("iam", "tagTemplateKeyType"), ("iam", "tagTemplateValueType"),
    ("sts", "tagKeyType"), ("sts", "tagValueType"),
    ("iam", "pathType"), ("iam", "pathPrefixType"),  # "\u002F": read by Python too, written as "\x2f" by the translation
}


def test_every_served_pattern_is_applied_and_only_java_syntax_is_rewritten() -> None:
    rewritten = set()
    for pattern, shapes in model_patterns().items():
        assert compile_model_pattern(pattern) is not None, f"not applied: {pattern!r} ({shapes})"
        if java_pattern(pattern) != pattern:
            rewritten |= {tuple(s.split(":")) for s in shapes}
    assert rewritten == REWRITTEN


LETTERS_SPACES_NUMBERS = [
    # each family: (service, shape), accepted values, refused values
    (("firehose", "TagKey"),
     ["team name:é_1/=+-@%.", "数据", "Ünïcödé", "x\u00a0y", "٣", "Ⅻ", "", "aWS:x", "Aws:x"],
     ["a*b", "x#y", "aws:reserved", "aws:", "tab\t", "line\n", "😀", "a,b", "¿"]),
    (("firehose", "TagValue"),
     ["données 42", "", "aws:fine", "%", "\u3000"],
     ["x#y", "a*b", "\x00", "😀"]),
    (("lambda", "TagKey"),  # unanchored in the model: must still match the whole value
     ["Name", "team:é/=+-@.", ""],
     ["a*b", "*", "x%", "%x", "a\nb"]),
    (("logs", "TagKey"),
     ["k", "clé 1"],
     ["", "k\n", "a*b", "k%"]),
    (("logs", "TagValue"),
     ["", "v 1"],
     ["v*", "v%"]),
    (("logs", "TagFilterValue"),
     ["abc", "!abc", "*abc*", "!*a b*", "", "!"],
     ["a!b", "a**", "**a", "!!a", "a*b"]),
]


@pytest.mark.parametrize(("where", "accepted", "refused"), LETTERS_SPACES_NUMBERS, ids=lambda v: ":".join(v) if isinstance(v, tuple) else None)
def test_unicode_category_patterns(where: tuple[str, str], accepted: list[str], refused: list[str]) -> None:
    compiled = compile_model_pattern(pattern_of(*where))
    assert compiled is not None
    for value in accepted:
        assert compiled.fullmatch(value), value
    for value in refused:
        assert compiled.fullmatch(value) is None, value


def test_escape_before_dash_is_a_literal_dash() -> None:
    # logs ResourceType [\w-_]*: Java reads '-' after \w as a literal (Python refuses to compile it as written)
    compiled = compile_model_pattern(pattern_of("logs", "ResourceType"))
    assert compiled is not None
    for value in ["AWS-Lambda_fn", "-", "_", ""]:
        assert compiled.fullmatch(value), value
    for value in ["a b", "a.b", "a/b", "a,b"]:
        assert compiled.fullmatch(value) is None, value


def test_letter_class_agrees_with_unicode_data_for_every_code_point() -> None:
    compiled = compile_model_pattern(r"[\p{L}\p{Z}\p{N}_]")
    assert compiled is not None
    for cp in range(0x110000):
        ch = chr(cp)
        category = unicodedata.category(ch)
        # unassigned code points (Cn) are let through: a newer JVM may call them letters
        expected = category[0] in "LZN" or category == "Cn" or ch == "_"
        assert bool(compiled.fullmatch(ch)) == expected, hex(cp)


@pytest.mark.parametrize(("pattern", "accepted", "refused"), [
    (r"\p{L}+", ["abc", "Ωé"], ["a1", "a b"]),
    (r"\pL\pN", ["a1", "é٣"], ["1a", "aa"]),
    (r"\p{IsL}\p{gc=Nd}\p{general_category=Lu}", ["a1B"], ["a1b", "aⅫB"]),
    (r"\p{Lu}\p{Ll}", ["Ab"], ["aB", "AB"]),
    (r"\P{L}+", ["12 !", "\u0378"], ["a", "1a"]),  # U+0378 is unassigned: matches \p{L} and \P{L}
    (r"[^\p{L}\p{N}]+", ["!? ", "\t"], ["a", "1", "!a"]),
    (r"[\P{N}x]+", ["abc!", "x"], ["1", "a2"]),
    (r"\p{^N}+", ["ab"], ["1"]),
    (r"[\p{Alnum}_]+", ["a_Z9"], ["é", "a-b"]),  # POSIX classes are ASCII in Java
    (r"\p{Punct}\p{Space}\p{XDigit}\p{Print}", ["! f~", "#\tA "], ["a fa", "!\u00a0f~"]),
    (r"\p{ASCII}*", ["\x00~\x7f"], ["é"]),
    (r"\p{Upper}\p{Lower}\p{Digit}\p{Blank}\p{Cntrl}\p{Graph}\p{Alpha}", ["Ab1 \x7f~z"], ["ab1 \x7f~z"]),
    (r"\p{LC}+", ["aBǅ"], ["ª"]),  # Lo is not a cased letter
    (r"\Qa.b*\E+", ["a.b*", "a.b**"], ["axb*"]),
    (r"\x{1F600}\x41\u00e9", ["😀Aé"], ["😀aé"]),
    (r"(?<word>\p{L}+)-\d", ["abc-1"], ["abc-x"]),
    (r"\e\z", ["\x1b"], ["\x1b\n"]),
])
def test_java_constructs_translate(pattern: str, accepted: list[str], refused: list[str]) -> None:
    compiled = compile_model_pattern(pattern)
    assert compiled is not None, pattern
    for value in accepted:
        assert compiled.fullmatch(value), (pattern, value)
    for value in refused:
        assert compiled.fullmatch(value) is None, (pattern, value)


@pytest.mark.parametrize("pattern", [
    r"\p{IsLatin}+",       # scripts
    r"\p{InGreek}",        # blocks
    r"\p{javaLowerCase}",  # java.lang.Character methods
    r"[a-z&&[^x]]",        # intersection
    r"[a[0-9]]",           # union by nesting (Python would read a literal '[')
    r"(?<n>a)\k<n>",       # named backreference
    r"\Z", r"\R", r"\h", r"\0101", r"\cA",
    r"[\p{L}-z]+x[",       # unterminated class
    r"[z-a]",
])
def test_untranslatable_patterns_are_not_applied(pattern: str) -> None:
    assert compile_model_pattern(pattern) is None


def test_patterns_python_reads_are_left_as_they_are() -> None:
    for pattern in [r"[a-zA-Z0-9_.-]+", r"^(?!\s*$).+", r"[\w#+=/:,.@-]*", r"[0-9A-Za-z\.\-_]*(?<!\.)", r"[^\s]+",
                    r"(\$LATEST|[0-9]+)", r"[\u0001-\uFFFF]*", r"[a-zA-Z0-9\\._\\-]+"]:
        assert java_pattern(pattern) == pattern


@pytest.mark.parametrize(("where", "accepted", "refused"), [
    # Java's \d \w \s are ASCII: a digit of another script is not \d, a no-break space is \S
    (("lambda", "SourceOwner"), ["123456789012"], ["\u0661\u0662\u0663456789012", "\uff11" * 12]),
    (("lambda", "Handler"), ["index.handler", "a\u00a0b", "x\u3000"], ["a b", "a\tb", "a\x0bb"]),
    (("firehose", "NonEmptyString"), ["x", "\u00a0", "\u3000x"], ["", " ", " \t\r\n\x0b\x0c"]),
    (("logs", "DeliveryDestinationName"), ["dest_1-a"], ["d\u00e9st", "\u0663"]),
], ids=lambda v: ":".join(v) if isinstance(v, tuple) else None)
def test_java_escapes_are_ascii(where: tuple[str, str], accepted: list[str], refused: list[str]) -> None:
    compiled = compile_model_pattern(pattern_of(*where))
    assert compiled is not None
    for value in accepted:
        assert compiled.fullmatch(value), value
    for value in refused:
        assert compiled.fullmatch(value) is None, value

def test_firehose_tag_pattern_failure_reads_like_aws() -> None:
    body = {"DeliveryStreamName": "s", "Tags": [{"Key": "ok", "Value": "v"}, {"Key": "a*b", "Value": "x#y"}]}
    with pytest.raises(ValidationError) as caught:
        FIREHOSE.parse("TagDeliveryStream", json_request("Firehose_20150804.TagDeliveryStream", body))
    assert caught.value.code == "ValidationException"
    assert caught.value.message == (
        "2 validation errors detected: "
        "Value 'a*b' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression "
        r"pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$; "
        "Value 'x#y' at 'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression "
        r"pattern: ^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$"
    )
    body = {"DeliveryStreamName": "s", "TagKeys": ["fine key", "aws:x"]}
    with pytest.raises(ValidationError) as caught:
        FIREHOSE.parse("UntagDeliveryStream", json_request("Firehose_20150804.UntagDeliveryStream", body))
    assert "Value 'aws:x' at 'tagKeys.2.member' failed to satisfy constraint" in caught.value.message
    body = {"DeliveryStreamName": "s", "Tags": [{"Key": "clé 1", "Value": "données 42"}]}
    assert FIREHOSE.parse("TagDeliveryStream", json_request("Firehose_20150804.TagDeliveryStream", body)) == body
