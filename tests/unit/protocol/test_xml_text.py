"""Character data in rest-xml answers: control characters as references, as S3 writes them, so a key with
a carriage return lists as itself (a raw CR reads back as a newline)."""

from __future__ import annotations

from xml.etree import ElementTree

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.restxml import xml_text

S3 = ServiceProtocol("s3")
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_keys_with_special_characters_list_as_themselves() -> None:
    key = "a<&>\rb\tc\nd\u0085é\x7f \"'"
    body = S3.serialize("ListObjectsV2", {"Name": "b", "KeyCount": 1, "Contents": [{"Key": key}], "IsTruncated": False}, "r").body
    assert b"a&lt;&amp;&gt;&#xD;b\tc\nd" in body
    assert ElementTree.fromstring(body).find(f".//{NS}Key").text == key  # type: ignore[union-attr]


def test_other_control_characters_are_references_like_s3s() -> None:
    assert xml_text("a\x01b\x1fc\x00") == "a&#x1;b&#x1F;c&#x0;"
    assert xml_text("plain key/ünïcode") == "plain key/ünïcode"
