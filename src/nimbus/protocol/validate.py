"""Input validation against botocore shapes: required members, types, lengths, ranges, enums, patterns.

Checks are compiled once per shape into closures. Type mismatches raise at once (a body that does not
fit the model is malformed, the service's ``malformed`` code); constraint failures are collected and
reported together in AWS's wording::

    1 validation error detected: Value 'x y' at 'deliveryStreamName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import re
import string
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from nimbus.bytestream import ByteStream
from nimbus.errors import SerializationError, ValidationError
from nimbus.protocol.errors import InputErrorCodes

try:
    from nimbus._speedups import check_simple_structures as _check_simple_structures
except ImportError:  # not compiled: the Python fast passes do it all
    _check_simple_structures = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

Problems = list[tuple[bool, str]]  # (is_missing, text)
# A path is built lazily, as nested pairs, and only rendered when something fails:
# "" (the input) | (parent, "memberName") | (parent, list index starting at 1) | (parent, ("key",))
Path = Any
Check = Callable[[Any, Path, Problems], None]


def render_path(path: Path) -> str:
    parts: list[str] = []
    while path:
        path, part = path
        if isinstance(part, int):
            parts.append(f"{part}.member")
        elif isinstance(part, tuple):
            parts.append(str(part[0]))
        else:
            parts.append(part)
    return ".".join(reversed(parts))

# Patterns are applied to values up to this size; beyond, a backtracking regex could stall the loop.
MAX_PATTERN_INPUT_CHARS = 65_536


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _text(value: Any) -> str:
    """A value as AWS's (Java) validator prints it: its toString."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_text(v)}" for k, v in value.items()) + "}"
    return str(value)


# Marks the shown value in a problem's text, so that services which leave values out ("Value at 'tags' failed
# to satisfy constraint: ...", IAM and STS) can drop it (InputErrorCodes.show_values)
_SHOWN = "\ufdd0"
_SHOWN_VALUE = re.compile(f" {_SHOWN}.*?{_SHOWN}", re.DOTALL)


def _show(value: Any) -> str:
    # Every value is quoted, numbers and blobs too: "Value '0' at 'limit' ...", "Value
    # 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' ..." (as AWS answers)
    return f"{_SHOWN}'{_text(value)}'{_SHOWN}"


_RULE = " failed to satisfy constraint: "


def _constraint(problems: Problems, value: Any, path: Path, rule: str) -> None:
    problems.append((False, f"Value {_show(value)} at '{render_path(path)}'{_RULE}{rule}"))




# -- Java's regex dialect ------------------------------------------------------------------------------
# The models' patterns are java.util.regex patterns (AWS's validator is Java), matched against the whole
# value. Most read the same in Python's ``re``; ``java_pattern`` rewrites the constructs that do not:
# Unicode properties (``\p{L}``, ``\P{N}``, POSIX ``\p{Alnum}``) become explicit code point ranges, a
# class escape before ``-`` (``[\w-_]``: Java reads the ``-`` as a literal) gets the ``-`` escaped, and
# ``\Q...\E``, ``\x{h...}``, ``\e``, ``\z``, ``(?<name>`` take their Python spelling. Anything it cannot
# rewrite faithfully (nested or intersected classes, block and script properties, ...) makes it answer
# None: the pattern is then not applied, as before (refusing a value AWS accepts would be worse).
# Patterns compile with re.ASCII: Java's \d \w \s are [0-9], [a-zA-Z_0-9] and [ \t\n\x0B\f\r] (Python's
# Unicode ones took '٣' for a digit and refused '\u00a0' where a model says \S).

_MAX_CODE_POINT = 0x10FFFF
# general categories, as Java names them (L, Lu, ... and LC, the cased letters)
_CATEGORY_GROUPS = {"L", "M", "N", "P", "S", "Z", "C"}
_CATEGORIES = {
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
    "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
}
# POSIX classes, US-ASCII only as Java reads them without UNICODE_CHARACTER_CLASS
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_POSIX: dict[str, str] = {
    "Lower": "abcdefghijklmnopqrstuvwxyz",
    "Upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ASCII": "".join(map(chr, range(0x80))),
    "Digit": "0123456789",
    "XDigit": "0123456789abcdefABCDEF",
    "Punct": _PUNCT,
    "Blank": " \t",
    "Space": " \t\n\x0b\f\r",
    "Cntrl": "".join(map(chr, range(0x20))) + "\x7f",
}
_POSIX["Alpha"] = _POSIX["Lower"] + _POSIX["Upper"]
_POSIX["Alnum"] = _POSIX["Alpha"] + _POSIX["Digit"]
_POSIX["Graph"] = _POSIX["Alnum"] + _PUNCT
_POSIX["Print"] = _POSIX["Graph"] + " "
# escapes that mean the same in both dialects, outside and inside classes (\1.. backreferences apart)
_SAME_ESCAPES = frozenset("dDsSwWbBAtnrfa")
_CLASS_ESCAPES = frozenset("dDsSwW")
_CHAR_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}
Ranges = list[tuple[int, int]]


@functools.lru_cache(maxsize=1)
def _category_runs() -> tuple[tuple[int, int, str], ...]:
    """Every code point's general category as runs (start, end, category), from Python's Unicode data;
    built once, on the first pattern that needs it (about 0.1 s)."""
    runs: list[tuple[int, int, str]] = []
    start = 0
    for category, group in itertools.groupby(map(unicodedata.category, map(chr, range(_MAX_CODE_POINT + 1)))):
        n = sum(1 for _ in group)
        runs.append((start, start + n - 1, category))
        start += n
    return tuple(runs)


def _merge(ranges: Ranges) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    at = 0
    for lo, hi in ranges:
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= _MAX_CODE_POINT:
        out.append((at, _MAX_CODE_POINT))
    return out


@functools.lru_cache(maxsize=64)
def _category_ranges(categories: frozenset[str]) -> tuple[tuple[int, int], ...]:
    return tuple(_merge([(lo, hi) for lo, hi, c in _category_runs() if c in categories]))


def _property(name: str, negated: bool) -> Ranges | None:
    """The code points of ``\\p{name}`` (``\\P{name}`` when negated), or None for a property not translated.

    A general category also takes the code points unassigned in Python's Unicode data (Cn): a newer JVM
    may know them as letters or digits, and a value AWS accepts must not be refused; ``\\P{..}`` takes them
    as well, so an unassigned code point matches both."""
    if name in _POSIX:
        ranges = _merge([(ord(c), ord(c)) for c in _POSIX[name]])
        return _complement(ranges) if negated else ranges
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name == "LC":
        wanted = {"Lu", "Ll", "Lt"}
    elif name in _CATEGORY_GROUPS:
        wanted = {c for c in _CATEGORIES if c[0] == name}
    elif name in _CATEGORIES:
        wanted = {name}
    else:
        return None  # scripts, blocks, binary and java* properties
    exact = list(_category_ranges(frozenset(wanted)))
    unassigned = list(_category_ranges(frozenset({"Cn"})))
    if negated:
        return _merge(_complement(exact) + unassigned)
    return _merge(exact + unassigned)


def _hex_escape(pattern: str, i: int) -> tuple[int, int] | None:
    """``\\x{h..h}``, ``\\xhh`` or ``\\uhhhh`` at ``i`` (the backslash): (code point, index after)."""
    kind = pattern[i + 1]
    if kind == "x" and pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 3)
        digits = pattern[i + 3:end] if end > 0 else ""
        nxt = end + 1
    else:
        width = 2 if kind == "x" else 4
        digits, nxt = pattern[i + 2:i + 2 + width], i + 2 + width
        if len(digits) != width:
            return None
    cp = int(digits, 16) if digits and all(c in string.hexdigits for c in digits) else -1
    if not 0 <= cp <= _MAX_CODE_POINT or 0xD800 <= cp <= 0xDFFF:  # Java pairs surrogate escapes; not taken
        return None
    return cp, nxt


def _property_at(pattern: str, i: int) -> tuple[Ranges, int] | None:
    """``\\p{..}``, ``\\P{..}``, ``\\pL`` at ``i`` (the backslash): (code point ranges, index after)."""
    negated = pattern[i + 1] == "P"
    if pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 3)
        if end < 0:
            return None
        name, nxt = pattern[i + 3:end], end + 1
        if name.startswith("^"):  # Java's \p{^L} is \P{L}
            name, negated = name[1:], not negated
    else:
        name, nxt = pattern[i + 2:i + 3], i + 3
    ranges = _property(name, negated)
    return None if ranges is None else (ranges, nxt)


def _class_char(cp: int) -> str:
    if cp < 0x80 and (chr(cp).isalnum() or chr(cp) == "_"):
        return chr(cp)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _ranges_text(ranges: Ranges) -> str:
    return "".join(_class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}" for lo, hi in ranges)


def _class_atom(pattern: str, j: int) -> tuple[str, Any, int] | None:
    """One item of a character class at ``j``: ("char", code point | "set", ranges | "escape", text, next)."""
    c = pattern[j]
    if c != "\\":
        return "char", ord(c), j + 1
    if j + 1 >= len(pattern):
        return None
    e = pattern[j + 1]
    if e in "pP":
        found = _property_at(pattern, j)
        return None if found is None else ("set", found[0], found[1])
    if e in _CLASS_ESCAPES:
        return "escape", pattern[j:j + 2], j + 2
    if e in "xu":
        found_hex = _hex_escape(pattern, j)
        return None if found_hex is None else ("char", found_hex[0], found_hex[1])
    if e in _CHAR_ESCAPES:
        return "char", _CHAR_ESCAPES[e], j + 2
    if e.isascii() and e.isalnum():
        return None  # \0 octal, \c control, \Q, \b, \h, \v, ...: not taken inside a class
    return "char", ord(e), j + 2


def _java_class(pattern: str, i: int) -> tuple[str, int] | None:
    """The character class opening at ``i``, in Python's spelling: (text, index after)."""
    n = len(pattern)
    j = i + 1
    negate = j < n and pattern[j] == "^"
    if negate:
        j += 1
    ranges: Ranges = []  # every char, range and property of the class, merged when it is rewritten
    escapes: list[str] = []  # \d \s \w and their negations, kept as they are
    translated = False
    first = True
    while True:
        if j >= n:
            return None
        c = pattern[j]
        if c == "]" and not first:
            j += 1
            break
        if c in "[]" or pattern.startswith("&&", j):
            return None  # Java's nested classes, unions and intersections; a leading ]
        first = False
        atom = _class_atom(pattern, j)
        if atom is None:
            return None
        kind, value, j = atom
        if kind == "char" and j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]":
            upper = _class_atom(pattern, j + 1)
            if upper is None or upper[0] != "char" or upper[1] < value:
                return None
            ranges.append((value, upper[1]))
            j = upper[2]
        elif kind == "char":
            ranges.append((value, value))
        elif kind == "set":
            ranges.extend(value)
            translated = True
        else:
            escapes.append(value)
            if j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]":
                translated = True  # [\w-_]: a literal '-' for Java, a bad range for Python
    if not translated:
        return pattern[i:j], j
    return ("[^" if negate else "[") + "".join(escapes) + _ranges_text(_merge(ranges)) + "]", j


def java_pattern(pattern: str) -> str | None:
    """``pattern`` (java.util.regex) as an equivalent Python ``re`` pattern, or None if it cannot say."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "[":
            found = _java_class(pattern, i)
            if found is None:
                return None
            text, i = found
            out.append(text)
            continue
        if c == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")  # Java's named group
            i += 3
            continue
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            return None
        e = pattern[i + 1]
        if e in "pP":
            prop = _property_at(pattern, i)
            if prop is None:
                return None
            out.append(f"[{_ranges_text(prop[0])}]")
            i = prop[1]
        elif e == "Q":
            end = pattern.find("\\E", i + 2)
            out.append(re.escape(pattern[i + 2:end if end >= 0 else n]))
            i = end + 2 if end >= 0 else n
        elif e in "xu":
            found_hex = _hex_escape(pattern, i)
            if found_hex is None:
                return None
            out.append(_class_char(found_hex[0]))
            i = found_hex[1]
        elif e == "e":
            out.append("\\x1b")
            i += 2
        elif e == "z":
            out.append("\\Z")  # Java's \z is Python's \Z (Java's \Z allows a final line terminator)
            i += 2
        elif e in _SAME_ESCAPES or (e.isdigit() and e != "0") or not (e.isascii() and e.isalnum()):
            out.append(pattern[i:i + 2])
            i += 2
        else:
            return None  # \0 octal, \c, \G, \Z, \R, \X, \h, \v, \k, \N, ...
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_model_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model's pattern compiled for ``fullmatch`` (Coral matches the whole value), or None when it is
    not applied: Java syntax ``java_pattern`` does not translate, or a pattern Python cannot compile."""
    text = java_pattern(pattern)
    if text is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": only literal text here
                return re.compile(text, re.ASCII)
        except (re.error, OverflowError, RecursionError):
            pass
    log.debug("model pattern not applied pattern=%r", pattern)
    return None



MALFORMED_XML_MESSAGE = "The XML you provided was not well-formed or did not validate against our published schema"


class Validator:
    """Validates parsed input dicts for one service model."""

    def __init__(self, codes: InputErrorCodes) -> None:
        self.codes = codes
        self._checks: dict[str, Check] = {}
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    def validate(self, shape: StructureShape | None, params: dict[str, Any]) -> None:
        if shape is None:
            return
        problems: Problems = []
        self.check_for(shape)(params, "", problems)
        if problems:
            missing = any(is_missing for is_missing, _ in problems)
            count = len(problems)
            text = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(
                t for _, t in problems
            )
            text = text.replace(_SHOWN, "") if self.codes.show_values else _SHOWN_VALUE.sub("", text)
            payload = shape.serialization.get("payload")
            member = shape.members.get(payload) if payload else None
            if self.codes.payload and member is not None and member.type_name == "structure" and isinstance(params.get(payload), dict):
                inside: Problems = []
                self.check_for(member)(params[payload], "", inside)  # type: ignore[arg-type]
                if len(inside) == len(problems):  # every failure is inside the XML document
                    raise ValidationError(MALFORMED_XML_MESSAGE, code=self.codes.payload)
            raise ValidationError(text, code=self.codes.missing if missing else self.codes.invalid)

    def _type_error(self, path: Path, expected: str, value: Any) -> SerializationError:
        where = f" at '{render_path(path)}'" if path else ""
        return SerializationError(
            f"Unexpected value type{where}: expected {expected}, got {type(value).__name__}",
            code=self.codes.malformed,
        )

    def _pattern(self, pattern: str) -> re.Pattern[str] | None:
        if pattern not in self._patterns:
            self._patterns[pattern] = compile_model_pattern(pattern)
        return self._patterns[pattern]

    def check_for(self, shape: Shape) -> Check:
        key = shape.name
        found = self._checks.get(key)
        if found is not None:
            return found
        # Recursive shapes: install a trampoline before compiling.
        cell: list[Check] = []

        def deferred(value: Any, path: Path, problems: Problems) -> None:
            cell[0](value, path, problems)

        self._checks[key] = deferred
        compiled = self._compile(shape)
        cell.append(compiled)
        self._checks[key] = compiled
        return compiled

    def _compile(self, shape: Shape) -> Check:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self._compile_structure(shape)
        if kind == "list":
            assert isinstance(shape, ListShape)
            return self._compile_list(shape)
        if kind == "map":
            assert isinstance(shape, MapShape)
            return self._compile_map(shape)
        if kind == "string":
            return self._compile_string(shape)
        if kind in ("integer", "long", "float", "double"):
            integral = kind in ("integer", "long")
            lo, hi = meta.get("min"), meta.get("max")
            type_error = self._type_error

            def check_number(value: Any, path: Path, problems: Problems) -> None:
                if isinstance(value, bool) or not isinstance(value, (int, float) if not integral else int):
                    raise type_error(path, kind, value)
                if lo is not None and value < lo:
                    _constraint(problems, value, path, f"Member must have value greater than or equal to {lo}")
                if hi is not None and value > hi:
                    _constraint(problems, value, path, f"Member must have value less than or equal to {hi}")

            return check_number
        if kind == "boolean":
            type_error = self._type_error

            def check_bool(value: Any, path: Path, problems: Problems) -> None:
                if not isinstance(value, bool):
                    raise type_error(path, "boolean", value)

            return check_bool
        if kind == "blob":
            lo, hi = meta.get("min"), meta.get("max")
            type_error = self._type_error

            def check_blob(value: Any, path: Path, problems: Problems) -> None:
                if isinstance(value, ByteStream):
                    return
                if not isinstance(value, (bytes, bytearray, memoryview)):
                    raise type_error(path, "blob", value)
                if lo is not None and len(value) < lo:
                    _constraint(problems, value, path, f"Member must have length greater than or equal to {lo}")
                if hi is not None and len(value) > hi:
                    _constraint(problems, value, path, f"Member must have length less than or equal to {hi}")

            check_blob.inline = (bytes, lo, hi)  # type: ignore[attr-defined] # see _structure_list
            return check_blob
        if kind == "timestamp":
            type_error = self._type_error

            def check_timestamp(value: Any, path: Path, problems: Problems) -> None:
                if not isinstance(value, dt.datetime):
                    raise type_error(path, "timestamp", value)

            return check_timestamp
        return lambda value, path, problems: None  # document and unknown types

    def _compile_string(self, shape: Shape) -> Check:
        meta = shape.metadata
        lo, hi = meta.get("min"), meta.get("max")
        enum = frozenset(shape.enum) if shape.enum else None
        enum_text = "[" + ", ".join(shape.enum) + "]" if shape.enum else ""
        pattern_text = meta.get("pattern")
        pattern = self._pattern(pattern_text) if pattern_text else None
        type_error = self._type_error
        if lo is None and hi is None and enum is None and pattern is None:

            def check_plain(value: Any, path: Path, problems: Problems) -> None:
                if not isinstance(value, str):
                    raise type_error(path, "string", value)

            check_plain.inline = (str, None, None)  # type: ignore[attr-defined]
            return check_plain

        def check_string(value: Any, path: Path, problems: Problems) -> None:
            if not isinstance(value, str):
                raise type_error(path, "string", value)
            n = len(value)
            if lo is not None and n < lo:
                _constraint(problems, value, path, f"Member must have length greater than or equal to {lo}")
            if hi is not None and n > hi:
                _constraint(problems, value, path, f"Member must have length less than or equal to {hi}")
            if enum is not None and value not in enum:
                _constraint(problems, value, path, f"Member must satisfy enum value set: {enum_text}")
            if pattern is not None and n <= MAX_PATTERN_INPUT_CHARS and pattern.fullmatch(value) is None:
                _constraint(
                    problems, value, path, f"Member must satisfy regular expression pattern: {pattern_text}"
                )

        if enum is None and pattern is None:
            # only length bounds (Kinesis PartitionKey): list-of-structure checks can test it inline
            check_string.inline = (str, lo, hi)  # type: ignore[attr-defined]
        return check_string

    def _compile_structure(self, shape: StructureShape) -> Check:
        required = [(name, lower_first(name)) for name in shape.required_members]
        flat_required = [name for name, _ in required]
        members = [
            (name, lower_first(name), self._member_check(member, self.check_for(member)))
            for name, member in shape.members.items()
        ]
        positions = {name: i for i, (name, _, _) in enumerate(members)}
        type_error = self._type_error
        if shape.is_document_type:
            return lambda value, path, problems: None

        def check_structure(value: Any, path: Path, problems: Problems) -> None:
            if not isinstance(value, dict):
                raise type_error(path, "structure", value)
            for name in flat_required:
                if value.get(name) is None:
                    where = render_path((path, lower_first(name)))
                    problems.append(
                        (True, f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
                    )
            visit = members
            if len(value) * 2 < len(visit):
                # a few of many members set (S3 inputs have dozens): visit those, still in model order
                hits = [positions[k] for k in value if k in positions]
                if len(hits) > 1:
                    hits.sort()
                visit = [members[i] for i in hits]
            for name, wire, check in visit:
                item = value.get(name)
                if item is not None:
                    check(item, (path, wire), problems)

        check_structure.parts = (flat_required, members)  # type: ignore[attr-defined] # see _structure_list
        return check_structure

    def _member_check(self, member: Shape, check: Check) -> Check:
        """``check``, or for a header the service checks itself (S3's x-amz-storage-class), a check that
        raises the service's own error when the value breaks the model."""
        serialization = member.serialization
        if not self.codes.headers or serialization.get("location") != "header":
            return check
        override = self.codes.headers.get(str(serialization.get("name", "")).lower())
        if override is None:
            return check

        def check_header(value: Any, path: Path, problems: Problems) -> None:
            found: Problems = []
            check(value, path, found)
            if found:
                raise override.error(value)

        return check_header

    def _compile_list(self, shape: ListShape) -> Check:
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        check_member = self.check_for(shape.member)
        type_error = self._type_error
        parts = getattr(check_member, "parts", None)
        if parts is not None:
            return self._structure_list(lo, hi, parts, type_error)

        def check_list(value: Any, path: Path, problems: Problems) -> None:
            if not isinstance(value, list):
                raise type_error(path, "list", value)
            n = len(value)
            if lo is not None and n < lo:
                _constraint(problems, value, path, f"Member must have length greater than or equal to {lo}")
            if hi is not None and n > hi:
                _constraint(problems, value, path, f"Member must have length less than or equal to {hi}")
            for index, item in enumerate(value, 1):
                if item is not None:
                    check_member(item, (path, index), problems)

        return check_list

    @staticmethod
    def _structure_list(lo: int | None, hi: int | None, parts: Any, type_error: Any) -> Check:
        """A list of structures checked in one loop: members of a simple kind (bytes or str with at most
        length bounds) are checked inline, others (and anything that fails) go through their own check,
        which reports the problem with its path, so messages are exactly those of the general path."""
        flat_required, members = parts
        plan = []
        for name, wire, check in members:
            inline = getattr(check, "inline", None)
            if inline is None:
                plan.append((name, wire, check, None, 0, 0))
            else:
                kind, mlo, mhi = inline
                plan.append((name, wire, check, kind, mlo or 0, mhi if mhi is not None else 1 << 62))

        def check_item(item: Any, path: Path, index: int, problems: Problems) -> None:
            if not isinstance(item, dict):
                raise type_error((path, index), "structure", item)
            for name in flat_required:
                if item.get(name) is None:
                    where = render_path(((path, index), lower_first(name)))
                    problems.append(
                        (True, f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
                    )
            for name, wire, check, kind, mlo, mhi in plan:
                member = item.get(name)
                if member is None:
                    continue
                if kind is not None and type(member) is kind and mlo <= len(member) <= mhi:
                    continue
                check(member, ((path, index), wire), problems)

        required = set(flat_required)
        # nimbus._speedups: the same fast pass in C (the Python one below then runs only over a list that
        # has an item that does not pass, to find and report it)
        c_plan = (
            tuple((name, kind, mlo, mhi, name in required) for name, _w, _c, kind, mlo, mhi in plan)
            if _check_simple_structures is not None and len(plan) <= 32
            else None
        )

        def check_bounds(value: Any, path: Path, problems: Problems) -> bool:
            """The list's own bounds; True when every item also passed the C fast pass (nothing more to check)."""
            if not isinstance(value, list):
                raise type_error(path, "list", value)
            n = len(value)
            if lo is not None and n < lo:
                _constraint(problems, value, path, f"Member must have length greater than or equal to {lo}")
            if hi is not None and n > hi:
                _constraint(problems, value, path, f"Member must have length less than or equal to {hi}")
            return c_plan is not None and _check_simple_structures(value, c_plan) < 0

        if len(plan) == 1 and plan[0][3] is not None and required <= {plan[0][0]}:
            # one simple member (Firehose's Record{Data}): one lookup, one type and one length test per item;
            # an item that does not pass goes through check_item for its exact messages
            only, kind1, lo1, hi1 = plan[0][0], plan[0][3], plan[0][4], plan[0][5]
            only_required = bool(required)

            def check_one_member_structures(value: Any, path: Path, problems: Problems) -> None:
                if check_bounds(value, path, problems):
                    return
                index = 0
                for item in value:
                    index += 1
                    if type(item) is dict:
                        member = item.get(only)
                        if member is None:
                            if not only_required:
                                continue
                        elif type(member) is kind1 and lo1 <= len(member) <= hi1:
                            continue
                    elif item is None:
                        continue
                    check_item(item, path, index, problems)

            return check_one_member_structures

        fast = _fast_structures(plan, required)
        if fast is not None:

            def check_structures_fast(value: Any, path: Path, problems: Problems) -> None:
                if check_bounds(value, path, problems):
                    return
                fast(value, check_item, path, problems)

            return check_structures_fast

        def check_structures(value: Any, path: Path, problems: Problems) -> None:
            if check_bounds(value, path, problems):
                return
            index = 0
            for item in value:
                index += 1
                if type(item) is dict:
                    # fast pass, no call: required members present, members absent or simple and in bounds;
                    # anything else (even a valid non-simple member) goes through check_item
                    for name in flat_required:
                        if item.get(name) is None:
                            break
                    else:
                        for name, _wire, _check, kind, mlo, mhi in plan:
                            member = item.get(name)
                            if member is None:
                                continue
                            if kind is None or type(member) is not kind or not mlo <= len(member) <= mhi:
                                break
                        else:
                            continue
                elif item is None:
                    continue
                check_item(item, path, index, problems)

        return check_structures

    def _compile_map(self, shape: MapShape) -> Check:
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        sensitive = bool(shape.metadata.get("sensitive") or shape.key.metadata.get("sensitive"))
        check_key = self.check_for(shape.key)
        check_value = self.check_for(shape.value)
        type_error = self._type_error

        def check_map(value: Any, path: Path, problems: Problems) -> None:
            if not isinstance(value, dict):
                raise type_error(path, "map", value)
            n = len(value)
            if lo is not None and n < lo:
                _constraint(problems, value, path, f"Member must have length greater than or equal to {lo}")
            if hi is not None and n > hi:
                _constraint(problems, value, path, f"Member must have length less than or equal to {hi}")
            keys: Problems = []
            for key, item in value.items():
                check_key(key, path, keys)
                if item is not None:
                    check_value(item, (path, (key,)), problems)
            if keys:
                # AWS words a key's failure as the map's: "Value at 'environment.variables' failed to satisfy
                # constraint: Map keys must satisfy constraint: [Member must satisfy regular expression
                # pattern: ...]", without the value when the map is sensitive (Lambda's variables)
                rules = list(dict.fromkeys(text.split(_RULE, 1)[-1] for _, text in keys))
                shown = "" if sensitive else f" {_show(value)}"
                problems.append((False, f"Value{shown} at '{render_path(path)}'{_RULE}Map keys must satisfy constraint: [{', '.join(rules)}]"))

        return check_map


def _fast_structures(plan: list[Any], required: set[str]) -> Any:
    """The fast pass of ``_structure_list``'s ``check_structures`` with its per-member loop unrolled (one
    generated function per list shape, e.g. Kinesis PutRecords entries): an item passes when every member
    is absent (and not required) or simple and within bounds; any other item goes to ``check_item``, as
    in the loop. Names and bounds are bound as constants, never pasted into the source."""
    if not plan or len(plan) > 16:
        return None
    env: dict[str, Any] = {}
    gets: list[str] = []
    tests: list[str] = []
    for k, (name, _wire, _check, kind, mlo, mhi) in enumerate(plan):
        env[f"N{k}"], env[f"K{k}"], env[f"L{k}"], env[f"H{k}"] = name, kind, mlo, mhi
        gets.append(f"            m{k} = get(N{k})")
        if kind is None:
            if name in required:
                return None  # never passes: no fast pass to make
            tests.append(f"m{k} is None")
            continue
        simple = f"(type(m{k}) is K{k} and L{k} <= len(m{k}) <= H{k})"
        tests.append(simple if name in required else f"(m{k} is None or {simple})")
    source = "\n".join([
        "def fast(value, check_item, path, problems):",
        "    index = 0",
        "    for item in value:",
        "        index += 1",
        "        if type(item) is dict:",
        "            get = item.get",
        *gets,
        f"            if {' and '.join(tests)}:",
        "                continue",
        "        elif item is None:",
        "            continue",
        "        check_item(item, path, index, problems)",
    ])
    exec(compile(source, "<nimbus.protocol.validate fast structures>", "exec"), env)  # noqa: S102 - constants only
    return env["fast"]
