"""Space-delimited filter patterns (pure): ``[ip, user, ..., status = 4*, bytes > 1000]``.

A message is split into fields at spaces; text in ``"..."`` or ``[...]`` is one field (without its
quotes or brackets, as TestMetricFilter's extractedValues show it). The pattern names each field in
order; ``...`` stands for any number of fields (none too). Without an ellipsis the message must have
exactly as many fields as the pattern. A field may carry conditions: ``= != < > <= >=`` with a number,
``= !=`` with a string (``*`` wildcards) or a ``%regex%``, joined with ``&&`` / ``||`` (the field's name
may be repeated after the operator: ``status = 4* || status = 5*``). ``[]`` matches every message.
The extractor answers ``{"$name": value}`` for the named fields of a matching message, else None.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nimbus.services.logs.filters import PatternError, compile_regex

Extractor = Callable[[str], "dict[str, str] | None"]

ELLIPSIS = "..."
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_COND = re.compile(
    r"""\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>"(?:[^"\\]|\\.)*"|%[^%]*%|[^\s&|]+)\s*(?P<join>&&|\|\|)?\s*""",
)


def split_fields(message: str) -> list[str]:
    """The fields of a message: space-separated, a quoted or bracketed run is one field (unwrapped)."""
    fields: list[str] = []
    i, n = 0, len(message)
    while i < n:
        c = message[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"[":
            close = '"' if c == '"' else "]"
            end = message.find(close, i + 1)
            if end != -1:
                fields.append(message[i + 1 : end])
                i = end + 1
                continue
        end = i
        while end < n and not message[end].isspace():
            end += 1
        fields.append(message[i:end])
        i = end
    return fields


def _split_pattern(body: str) -> list[str]:
    """The comma-separated field specs of ``[ ... ]`` (commas inside quotes or %regex% are kept)."""
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    for c in body:
        if quote:
            buf.append(c)
            if c == quote:
                quote = None
            continue
        if c in "\"%":
            quote = c
            buf.append(c)
        elif c == ",":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(c)
    if quote:
        raise PatternError("Invalid space-delimited filter pattern: an unterminated quote or %regex%.")
    last = "".join(buf).strip()
    if last or parts:
        parts.append(last)
    return parts


def _value_test(op: str, raw: str) -> Callable[[str], bool]:
    if raw.startswith("%") and raw.endswith("%") and len(raw) >= 2:
        if op not in ("=", "!="):
            raise PatternError("Invalid space-delimited filter pattern: a regex compares with = or != only.")
        regex = compile_regex(raw[1:-1])
        return (lambda v: regex.search(v) is not None) if op == "=" else (lambda v: regex.search(v) is None)
    if _NUMBER.fullmatch(raw):
        number = float(raw)

        def numeric(v: str) -> bool:
            try:
                x = float(v)
            except ValueError:
                return op == "!=" if op in ("=", "!=") else False
            return {"=": x == number, "!=": x != number, "<": x < number, ">": x > number, "<=": x <= number, ">=": x >= number}[op]

        return numeric
    if op not in ("=", "!="):
        raise PatternError(f"Invalid space-delimited filter pattern: {op} compares numbers only.")
    text = raw[1:-1].replace('\\"', '"') if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2 else raw
    wildcard = re.compile(".*".join(re.escape(p) for p in text.split("*")), re.DOTALL)
    return (lambda v: wildcard.fullmatch(v) is not None) if op == "=" else (lambda v: wildcard.fullmatch(v) is None)


def _field(spec: str) -> tuple[str, Callable[[str], bool] | None]:
    """A field spec → (name, condition or None)."""
    m = re.match(r"\s*([^\s=!<>&|]+)", spec)
    if m is None:
        raise PatternError(f"Invalid space-delimited filter pattern: bad field {spec!r}.")
    name = m.group(1)
    rest = spec[m.end():]
    if not rest.strip():
        return name, None
    test: Callable[[str], bool] | None = None
    join: str | None = None
    pos = 0
    while pos < len(rest):
        if join is not None:
            # the field's name may be repeated after && / ||
            again = re.match(r"\s*" + re.escape(name) + r"(?=\s*(?:!=|<=|>=|=|<|>))", rest[pos:])
            if again:
                pos += again.end()
        c = _COND.match(rest, pos)
        if c is None or c.end() == pos:
            raise PatternError(f"Invalid space-delimited filter pattern: bad condition {rest[pos:].strip()!r}.")
        one = _value_test(c.group("op"), c.group("value"))
        if test is None:
            test = one
        elif join == "&&":
            test = (lambda a, b: lambda v: a(v) and b(v))(test, one)
        else:
            test = (lambda a, b: lambda v: a(v) or b(v))(test, one)
        join = c.group("join")
        pos = c.end()
    if join is not None:
        raise PatternError("Invalid space-delimited filter pattern: it ends with an operator.")
    return name, test


def field_names(pattern: str) -> set[str]:
    """``{"$name", ...}``: the named fields of a space-delimited pattern (none for other patterns)."""
    text = pattern.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return set()
    return {"$" + _field(s)[0] for s in _split_pattern(text[1:-1]) if s and s != ELLIPSIS}


def compile_space_pattern(pattern: str) -> Extractor:
    text = pattern.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise PatternError("Invalid space-delimited filter pattern: it must be enclosed in [ ].")
    specs = _split_pattern(text[1:-1])
    if any(not s for s in specs) and specs != [""]:
        raise PatternError("Invalid space-delimited filter pattern: an empty field.")
    fields = [(ELLIPSIS, None) if s == ELLIPSIS else _field(s) for s in specs if s]
    if not fields:
        return lambda message: {}

    def align(values: list[str], vi: int, fi: int, out: dict[str, str]) -> bool:
        if fi == len(fields):
            return vi == len(values)
        name, test = fields[fi]
        if name == ELLIPSIS:
            return any(align(values, k, fi + 1, out) for k in range(len(values), vi - 1, -1))
        if vi >= len(values):
            return False
        if test is not None and not test(values[vi]):
            return False
        if align(values, vi + 1, fi + 1, out):
            out["$" + name] = values[vi]
            return True
        return False

    def extract(message: str) -> dict[str, str] | None:
        out: dict[str, str] = {}
        return out if align(split_fields(message), 0, 0, out) else None

    return extract
