"""rest-xml (S3): HTTP bindings from ``rest.py`` plus XML documents.

Readers and writers are compiled per shape. Output documents carry the model's namespace (S3:
``http://s3.amazonaws.com/doc/2006-03-01/``), flattened lists and maps, ``locationName`` renames,
``xmlAttribute`` members (``xsi:type``), ISO 8601 timestamps with milliseconds and lower-case booleans.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from nimbus.errors import SerializationError
from nimbus.protocol.errors import InputErrorCodes, host_id
from nimbus.protocol.json import shape_key
from nimbus.protocol.models import (
    SEQUENCE_KEY,
    XML_INTERLEAVED_MEMBERS,
    XML_NAMESPACES,
    XML_OUTPUT_ROOTS,
    XML_TEXT_ROOT_MEMBERS,
)
from nimbus.protocol.rest import Bindings, RestCodec
from nimbus.protocol.timestamps import format_timestamp, parse_timestamp, to_iso8601

# Control characters other than tab and newline, written as character references the way S3 writes them
# (a key with "\r" lists as "&#xD;", so a parser gives back "\r", not the newline a raw CR reads as;
# "&#x1;" is not well-formed XML 1.0, as on S3: clients ask for encoding-type=url for such keys).
_XML_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")


def xml_text(value: str) -> str:
    """Character data for an element: ``&``, ``<``, ``>`` escaped, control characters as references."""
    text = escape(value)
    if text.isprintable():
        return text
    return _XML_CONTROL.sub(lambda m: f"&#x{ord(m.group()):X};", text)

XmlReader = Callable[[Any], Any]  # an Element, or a list of Elements for flattened members
XmlWriter = Callable[[str, Any, list[str]], None]  # (element name, value, output parts)

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[1] if tag[:1] == "{" else tag


def member_key(member: Shape, name: str) -> str:
    """The element name of a member inside its parent (botocore's ``_member_key_name``)."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        inner = member.member.serialization.get("name")  # type: ignore[attr-defined]
        if inner is not None:
            return str(inner)
    return str(member.serialization.get("name", name))


def is_flattened(member: Shape) -> bool:
    return member.type_name in ("list", "map") and bool(member.serialization.get("flattened"))


def namespace_attr(shape: Shape) -> str:
    ns = shape.serialization.get("xmlNamespace")
    if not ns:
        return ""
    if isinstance(ns, str):
        return f" xmlns={quoteattr(ns)}"
    prefix = ns.get("prefix")
    uri = ns.get("uri", "")
    return f" xmlns:{prefix}={quoteattr(uri)}" if prefix else f" xmlns={quoteattr(uri)}"


def parse_xml(body: bytes, codes: InputErrorCodes) -> ElementTree.Element:
    # Entity declarations are refused outright: no billion laughs, no external entities.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise SerializationError(
            "The XML you provided was not well-formed or did not validate against our published schema",
            code=codes.malformed,
        )
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise SerializationError(
            "The XML you provided was not well-formed or did not validate against our published schema",
            code=codes.malformed,
        ) from exc


class XmlShapes:
    def __init__(self, codes: InputErrorCodes, iso8601: Callable[[Any], str] = to_iso8601) -> None:
        self.codes = codes
        self.iso8601 = iso8601  # how an ISO 8601 timestamp is written (S3: always milliseconds)
        self._readers: dict[str, XmlReader] = {}
        self._writers: dict[str, XmlWriter] = {}

    # -- readers ---------------------------------------------------------------------------------
    def reader(self, shape: Shape) -> XmlReader:
        key = shape_key(shape)
        found = self._readers.get(key)
        if found is not None:
            return found
        cell: list[XmlReader] = []
        self._readers[key] = lambda node: cell[0](node)
        compiled = self._compile_reader(shape)
        cell.append(compiled)
        self._readers[key] = compiled
        return compiled

    def structure_reader(self, members: list[tuple[str, Shape]]) -> Callable[[ElementTree.Element], dict[str, Any]]:
        plan = [
            (
                name,
                member_key(member, name),
                str(member.serialization.get("name", name)),
                is_flattened(member),
                bool(member.serialization.get("xmlAttribute")),
                self.reader(member),
            )
            for name, member in members
        ]

        def read_structure(node: ElementTree.Element) -> dict[str, Any]:
            children: dict[str, list[ElementTree.Element]] = {}
            for child in node:
                children.setdefault(local_name(child.tag), []).append(child)
            out: dict[str, Any] = {}
            for name, key, alt_key, flattened, attribute, read in plan:
                if attribute:
                    for attr, value in node.attrib.items():
                        if attr == key or local_name(attr) == key.split(":")[-1]:
                            out[name] = value
                    continue
                nodes = children.get(key) or children.get(alt_key)
                if nodes:
                    out[name] = read(nodes if flattened else nodes[0])
            return out

        return read_structure

    def _scalar_reader(self, shape: Shape) -> XmlReader:
        kind = shape.type_name
        codes = self.codes

        def text_of(node: Any) -> str:
            if isinstance(node, list):
                node = node[0]
            return node.text or ""

        def read_scalar(node: Any) -> Any:
            text = text_of(node)
            try:
                if kind in ("integer", "long"):
                    return int(text)
                if kind in ("float", "double"):
                    return float(text)
                if kind == "boolean":
                    return text.strip().lower() == "true"
                if kind == "timestamp":
                    return parse_timestamp(text)
                if kind == "blob":
                    return base64.b64decode(text, validate=True)
            except (ValueError, binascii.Error) as exc:
                raise SerializationError(
                    f"Invalid {kind} value: {text!r}", code=codes.malformed
                ) from exc
            return text

        return read_scalar

    def _compile_reader(self, shape: Shape) -> XmlReader:
        if isinstance(shape, StructureShape):
            read_structure = self.structure_reader(list(shape.members.items()))
            return lambda node: read_structure(node[0] if isinstance(node, list) else node)
        if isinstance(shape, ListShape):
            read_member = self.reader(shape.member)
            if shape.serialization.get("flattened"):
                return lambda nodes: [read_member(n) for n in (nodes if isinstance(nodes, list) else [nodes])]
            return lambda node: [read_member(child) for child in (node[0] if isinstance(node, list) else node)]
        if isinstance(shape, MapShape):
            key_name = shape.key.serialization.get("name", "key")
            value_name = shape.value.serialization.get("name", "value")
            read_key = self.reader(shape.key)
            read_value = self.reader(shape.value)
            flattened = bool(shape.serialization.get("flattened"))

            def read_map(node: Any) -> dict[str, Any]:
                entries = node if flattened else list(node[0] if isinstance(node, list) else node)
                out: dict[str, Any] = {}
                for entry in entries if isinstance(entries, list) else [entries]:
                    k = v = None
                    for child in entry:
                        tag = local_name(child.tag)
                        if tag == key_name:
                            k = read_key(child)
                        elif tag == value_name:
                            v = read_value(child)
                    if k is not None:
                        out[k] = v
                return out

            return read_map
        return self._scalar_reader(shape)

    # -- writers ---------------------------------------------------------------------------------
    def writer(self, shape: Shape) -> XmlWriter:
        key = shape_key(shape)
        found = self._writers.get(key)
        if found is not None:
            return found
        cell: list[XmlWriter] = []
        self._writers[key] = lambda name, value, parts: cell[0](name, value, parts)
        compiled = self._compile_writer(shape)
        cell.append(compiled)
        self._writers[key] = compiled
        return compiled

    def structure_writer(
        self, shape: Shape, members: list[tuple[str, Shape]], extra_attrs: str = "", interleaved: tuple[str, ...] = ()
    ) -> XmlWriter:
        if interleaved:
            return self._interleaving_writer(shape, members, extra_attrs, interleaved)
        attributes = [
            (name, str(member.serialization.get("name", name)))
            for name, member in members
            if member.serialization.get("xmlAttribute")
        ]
        elements = [
            (name, member_key(member, name), self.writer(member))
            for name, member in members
            if not member.serialization.get("xmlAttribute")
        ]
        ns = namespace_attr(shape) + extra_attrs

        def write_structure(tag: str, value: Any, parts: list[str]) -> None:
            attrs = ns
            for name, attr in attributes:
                item = value.get(name)
                if item is not None:
                    attrs += f" {attr}={quoteattr(str(item))}"
            parts.append(f"<{tag}{attrs}>")
            for name, key, write in elements:
                item = value.get(name)
                if item is not None:
                    write(key, item, parts)
            parts.append(f"</{tag}>")

        return write_structure

    def _interleaving_writer(
        self, shape: Shape, members: list[tuple[str, Shape]], extra_attrs: str, interleaved: tuple[str, ...]
    ) -> XmlWriter:
        """A structure writer that writes the flattened lists named in ``interleaved`` as one sequence, at
        the place of the first of them, each entry by its own member's element name, in the order of the
        entries' SEQUENCE_KEY."""
        group = set(interleaved)
        plain = self.structure_writer(shape, [(n, m) for n, m in members if n not in group], extra_attrs)
        first = next(i for i, (n, _) in enumerate(members) if n in group)
        before = self.structure_writer(shape, members[:first], extra_attrs)
        entry_writers = {
            name: (member_key(member, name), self.writer(member.member))  # type: ignore[attr-defined]
            for name, member in members if name in group
        }

        def write_interleaved(tag: str, value: Any, parts: list[str]) -> None:
            whole: list[str] = []
            plain(tag, value, whole)
            head: list[str] = []
            before(tag, value, head)
            # the plain writer's output up to where the first member of the group belongs
            split = len(head) - 1  # ``before`` wrote the same opening and leading members, then its close tag
            entries = sorted(
                ((entry.get(SEQUENCE_KEY, 0), name, entry) for name in interleaved for entry in value.get(name) or ()),
                key=lambda t: t[0],
            )
            middle: list[str] = []
            for _, name, entry in entries:
                key, write = entry_writers[name]
                write(key, entry, middle)
            parts.extend(whole[:split])
            parts.extend(middle)
            parts.extend(whole[split:])

        return write_interleaved

    def _compile_writer(self, shape: Shape) -> XmlWriter:
        if isinstance(shape, StructureShape):
            return self.structure_writer(shape, list(shape.members.items()))
        if isinstance(shape, ListShape):
            write_member = self.writer(shape.member)
            if shape.serialization.get("flattened"):

                def write_flat_list(tag: str, value: Any, parts: list[str]) -> None:
                    for item in value:
                        if item is not None:
                            write_member(tag, item, parts)

                return write_flat_list
            inner = str(shape.member.serialization.get("name", "member"))

            def write_list(tag: str, value: Any, parts: list[str]) -> None:
                parts.append(f"<{tag}>")
                for item in value:
                    if item is not None:
                        write_member(inner, item, parts)
                parts.append(f"</{tag}>")

            return write_list
        if isinstance(shape, MapShape):
            key_name = str(shape.key.serialization.get("name", "key"))
            value_name = str(shape.value.serialization.get("name", "value"))
            write_key = self.writer(shape.key)
            write_value = self.writer(shape.value)
            flattened = bool(shape.serialization.get("flattened"))

            def write_map(tag: str, value: Any, parts: list[str]) -> None:
                if not flattened:
                    parts.append(f"<{tag}>")
                for k, v in value.items():
                    if v is None:
                        continue
                    parts.append("<entry>" if not flattened else f"<{tag}>")
                    write_key(key_name, k, parts)
                    write_value(value_name, v, parts)
                    parts.append("</entry>" if not flattened else f"</{tag}>")
                if not flattened:
                    parts.append(f"</{tag}>")

            return write_map
        kind = shape.type_name
        fmt = str(shape.serialization.get("timestampFormat", "iso8601"))
        iso8601 = self.iso8601

        def write_scalar(tag: str, value: Any, parts: list[str]) -> None:
            if kind == "boolean":
                text = "true" if value else "false"
            elif kind == "timestamp":
                text = iso8601(value) if fmt == "iso8601" else str(format_timestamp(value, fmt))
            elif kind == "blob":
                raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
                text = base64.b64encode(raw).decode("ascii")
            else:
                text = xml_text(str(value))
            parts.append(f"<{tag}>{text}</{tag}>")

        return write_scalar


class RestXmlCodec(RestCodec):
    protocol = "rest-xml"
    body_content_type = "application/xml"

    def __init__(self, model: ServiceModel, codes: InputErrorCodes) -> None:
        super().__init__(model, codes)
        self.shapes = XmlShapes(codes)
        self.namespace = XML_NAMESPACES.get(model.service_name) or model.metadata.get("xmlNamespace", "")
        self._roots = XML_OUTPUT_ROOTS.get(model.service_name, {})
        self._text_roots = XML_TEXT_ROOT_MEMBERS.get(model.service_name, {})
        self._interleaved = XML_INTERLEAVED_MEMBERS.get(model.service_name, {})
        self._body_readers: dict[str, Callable[[ElementTree.Element], dict[str, Any]]] = {}
        self._body_writers: dict[str, XmlWriter] = {}

    def response_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-amz-request-id", request_id), ("x-amz-id-2", host_id(request_id))]

    def _ns_attr(self, shape: Shape) -> str:
        if shape.serialization.get("xmlNamespace") or not self.namespace:
            return ""
        return f" xmlns={quoteattr(self.namespace)}"

    def parse_body(self, operation: OperationModel, plan: Bindings, body: bytes) -> dict[str, Any]:
        if not body or body.isspace():
            return {}
        read = self._body_readers.get(operation.name)
        if read is None:
            read = self._body_readers[operation.name] = self.shapes.structure_reader(plan.body)
        return read(parse_xml(body, self.codes))

    def parse_payload_structure(self, plan: Bindings, body: bytes) -> Any:
        assert plan.payload_shape is not None
        return self.shapes.reader(plan.payload_shape)(parse_xml(body, self.codes))

    def serialize_body(self, operation: OperationModel, plan: Bindings, output: dict[str, Any]) -> bytes | None:
        shape = operation.output_shape
        assert shape is not None
        text_member = self._text_roots.get(operation.name)
        root = self._roots.get(operation.name) or str(shape.serialization.get("name", shape.name))
        if text_member is not None:
            value = output.get(text_member)
            ns = f" xmlns={quoteattr(self.namespace)}" if self.namespace else ""
            inner = "" if value is None else xml_text(str(value))
            return f"{XML_DECLARATION}<{root}{ns}>{inner}</{root}>".encode()
        write = self._body_writers.get(operation.name)
        if write is None:
            write = self._body_writers[operation.name] = self.shapes.structure_writer(
                shape, plan.body, self._ns_attr(shape), self._interleaved.get(operation.name, ())
            )
        parts = [XML_DECLARATION]
        write(root, output, parts)
        return "".join(parts).encode("utf-8")

    def serialize_payload_structure(self, operation: OperationModel, plan: Bindings, value: Any) -> bytes:
        shape = plan.payload_shape
        assert shape is not None and plan.payload is not None
        root = str(shape.serialization.get("name") or shape.name)
        key = operation.name + "#payload"
        write = self._body_writers.get(key)
        if write is None:
            members = list(shape.members.items()) if isinstance(shape, StructureShape) else []
            write = self._body_writers[key] = self.shapes.structure_writer(shape, members, self._ns_attr(shape))
        parts = [XML_DECLARATION]
        write(root, value, parts)
        return "".join(parts).encode("utf-8")
