"""S3 key layout of Firehose deliveries: ``!{namespace:value}`` prefix expressions and object names (pure).

aws-contracts.md A.4. Object key = ``<evaluated prefix><suffix>``, suffix
``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>``. Expressions:

    !{timestamp:<Java DateTimeFormatter pattern>}   arrival time of the oldest record in the object
    !{firehose:error-output-type}                    ErrorOutputPrefix only
    !{firehose:random-string}                        11 random characters, fresh per use
    !{partitionKeyFromQuery:<key>}                   dynamic partitioning (jq MetadataExtraction)
    !{partitionKeyFromLambda:<key>}                  dynamic partitioning (transform metadata)

``validate`` applies AWS's rules at create/update time (raising ``PrefixError``, which the engine turns into
InvalidArgumentException); ``Layout.key`` evaluates them at delivery time.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A.4 rule 5
MAX_EVALUATED_PREFIX_CHARS = 512
RANDOM_STRING_CHARS = 11
# A.4: default layout appended when Prefix has no timestamp expression
DEFAULT_TIMESTAMP_PATTERN = "yyyy/MM/dd/HH/"
ERROR_OUTPUT_TYPES = (
    "processing-failed",
    "partitioning-failed",
    "AmazonOpenSearchService-failed",
    "splunk-failed",
    "format-conversion-failed",
    "http-endpoint-failed",
)

_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^{}]*)\}")
_NAMESPACES = {"timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda"}
_FIREHOSE_VALUES = {"error-output-type", "random-string"}
_RANDOM_ALPHABET = string.ascii_lowercase + string.digits
_CONSTRAINT = "Ths supplied prefix(es) do not satisfy the following constraint: "


class PrefixError(ValueError):
    """A Prefix / ErrorOutputPrefix breaks one of AWS's rules; the message is AWS-style."""


@dataclass(slots=True, frozen=True)
class Expression:
    namespace: str
    value: str


Part = str | Expression


def parse(prefix: str) -> list[Part]:
    """Split a prefix into literal strings and expressions; ``!{`` outside an expression is an error."""
    parts: list[Part] = []
    pos = 0
    while True:
        start = prefix.find("!{", pos)
        if start < 0:
            if pos < len(prefix):
                parts.append(prefix[pos:])
            return parts
        m = _EXPRESSION.match(prefix, start)
        if m is None:
            raise PrefixError(f"The sequence '!{{' can only appear in '!{{namespace:value}}' expressions: {prefix!r}")
        namespace, value = m.group(1), m.group(2)
        if namespace not in _NAMESPACES:
            raise PrefixError(f"Unknown expression namespace '{namespace}' in {prefix!r}")
        if not value:
            raise PrefixError(f"Expression '{m.group(0)}' has an empty value")
        if namespace == "firehose" and value not in _FIREHOSE_VALUES:
            raise PrefixError(f"Unknown firehose expression value '{value}' in {prefix!r}")
        if namespace == "timestamp":
            compile_pattern(value)  # raises PrefixError for a bad pattern
        if start > pos:
            parts.append(prefix[pos:start])
        parts.append(Expression(namespace, value))
        pos = m.end()


def _has(parts: list[Part], namespace: str, value: str | None = None) -> bool:
    return any(
        isinstance(p, Expression) and p.namespace == namespace and (value is None or p.value == value) for p in parts
    )


def _has_expressions(parts: list[Part]) -> bool:
    return any(isinstance(p, Expression) for p in parts)


def validate(prefix: str | None, error_prefix: str | None, *, dynamic_partitioning: bool = False) -> None:
    """AWS's semantic rules for the pair (A.4 rules 1, 3, 4, 7)."""
    p = parse(prefix or "")
    e = parse(error_prefix) if error_prefix is not None else None
    if _has(p, "firehose", "error-output-type"):
        raise PrefixError("Prefix cannot contain !{firehose:error-output-type}; use it in ErrorOutputPrefix.")
    if e is not None:
        if _has(e, "partitionKeyFromQuery") or _has(e, "partitionKeyFromLambda"):
            raise PrefixError("ErrorOutputPrefix cannot contain partitionKeyFromQuery or partitionKeyFromLambda expressions.")
        # The guide: "If you specify an expression for ErrorOutputPrefix, you must include at least one
        # instance of !{firehose:error-output-type}".
        if _has_expressions(e) and not _has(e, "firehose", "error-output-type"):
            raise PrefixError(
                "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains expressions."
            )
    if _has_expressions(p) and not error_prefix:
        # AWS's wording, typo included, as captured in client reports (terraform-provider-aws #13416)
        raise PrefixError(_CONSTRAINT + "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
    uses_keys = _has(p, "partitionKeyFromQuery") or _has(p, "partitionKeyFromLambda")
    if dynamic_partitioning and not uses_keys:
        raise PrefixError(
            "When dynamic partitioning is enabled, Prefix must contain partitionKeyFromQuery or "
            "partitionKeyFromLambda expressions."
        )
    if uses_keys and not dynamic_partitioning:
        # AWS's wording (terraform-provider-aws #29092)
        raise PrefixError(
            "Dynamic Partitioning Namespaces can only be part of a prefix expression when Dynamic Partitioning is enabled."
        )
    if dynamic_partitioning and not error_prefix:
        raise PrefixError("ErrorOutputPrefix is required when dynamic partitioning is enabled.")


def partition_key_names(prefix: str | None) -> list[tuple[str, str]]:
    """The (namespace, key) pairs a prefix asks for, in order."""
    return [
        (p.namespace, p.value)
        for p in parse(prefix or "")
        if isinstance(p, Expression) and p.namespace in ("partitionKeyFromQuery", "partitionKeyFromLambda")
    ]


class Layout:
    """A stream's compiled key layout: evaluate the prefixes and build object names at delivery time."""

    def __init__(
        self,
        prefix: str | None,
        error_prefix: str | None,
        *,
        time_zone: str | None = None,
        dynamic_partitioning: bool = False,
    ) -> None:
        self.tz: tzinfo = resolve_time_zone(time_zone)
        parts = parse(prefix or "")
        if not dynamic_partitioning and not _has(parts, "timestamp"):
            # A.4 rule 2: a plain concatenation (Prefix="logs" gives "logs2024/...").
            parts.append(Expression("timestamp", DEFAULT_TIMESTAMP_PATTERN))
        self._prefix = parts
        if error_prefix:
            eparts = parse(error_prefix)
            if not _has_expressions(eparts):
                # [choice] a plain ErrorOutputPrefix gets the default error layout after it (rule 6's form).
                eparts += [Expression("firehose", "error-output-type"), "/", Expression("timestamp", DEFAULT_TIMESTAMP_PATTERN)]
        else:
            # A.4 rule 6 (observed form): <Prefix><error-output-type>/yyyy/MM/dd/HH/
            eparts = parse(prefix or "") + [
                Expression("firehose", "error-output-type"),
                "/",
                Expression("timestamp", DEFAULT_TIMESTAMP_PATTERN),
            ]
        self._error_prefix = eparts

    def prefix(self, arrival_ms: int, partition_keys: dict[str, str] | None = None) -> str:
        return _evaluate(self._prefix, self._dt(arrival_ms), None, partition_keys or {})

    def error_prefix(self, arrival_ms: int, error_output_type: str) -> str:
        return _evaluate(self._error_prefix, self._dt(arrival_ms), error_output_type, {})

    def _dt(self, arrival_ms: int) -> datetime:
        return datetime.fromtimestamp(arrival_ms / 1000, tz=timezone.utc).astimezone(self.tz)

    def object_name(self, stream: str, version: int | str, arrival_ms: int, object_id: str, extension: str) -> str:
        """``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>``, the fixed suffix (A.4)."""
        stamp = self._dt(arrival_ms).strftime("%Y-%m-%d-%H-%M-%S")
        return f"{stream}-{version}-{stamp}-{object_id}{extension}"


def _evaluate(parts: list[Part], dt: datetime, error_type: str | None, keys: dict[str, str]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.namespace == "timestamp":
            out.append(format_java(part.value, dt))
        elif part.namespace == "firehose":
            if part.value == "random-string":
                out.append("".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(RANDOM_STRING_CHARS)))
            else:
                out.append(error_type or "")
        else:
            value = keys.get(part.value)
            if value is None:
                raise PrefixError(f"partition key '{part.value}' missing")
            out.append(value)
    text = "".join(out)
    if len(text) > MAX_EVALUATED_PREFIX_CHARS:
        raise PrefixError(f"evaluated prefix is longer than {MAX_EVALUATED_PREFIX_CHARS} characters")
    return text


def resolve_time_zone(name: str | None) -> tzinfo:
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise PrefixError(f"CustomTimeZone '{name}' is not a supported time zone.") from e


# --------------------------------------------------------------------------- Java DateTimeFormatter subset

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# letters with a maximum run length; anything else in a-zA-Z is rejected like Java's "Unknown pattern letter"
_MAX_RUN = {
    "G": 5, "u": 19, "y": 19, "D": 3, "M": 5, "L": 5, "d": 2, "Q": 5, "q": 5, "E": 5, "e": 5, "c": 5,
    "a": 1, "h": 2, "K": 2, "k": 2, "H": 2, "m": 2, "s": 2, "S": 9, "A": 19, "n": 19, "N": 19,
    "V": 2, "z": 4, "O": 4, "X": 5, "x": 5, "Z": 5, "w": 2, "W": 1, "Y": 19,
}
_Token = tuple[str, int] | str  # (letter, count) or a literal


def compile_pattern(pattern: str) -> list[_Token]:
    """Tokenise a Java DateTimeFormatter pattern; raise PrefixError where Java would throw."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            j = i + 1
            lit: list[str] = []
            while True:
                if j >= n:
                    raise PrefixError(f"Pattern ends with an incomplete string literal: {pattern!r}")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        lit.append("'")
                        j += 2
                        continue
                    break
                lit.append(pattern[j])
                j += 1
            tokens.append("".join(lit) if lit else "'")  # '' alone is one quote
            i = j + 1
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            count = j - i
            limit = _MAX_RUN.get(ch)
            if limit is None:
                raise PrefixError(f"Unknown pattern letter: {ch}")
            if count > limit:
                raise PrefixError(f"Too many pattern letters: {ch}")
            tokens.append((ch, count))
            i = j
        elif ch in "[]":
            i += 1  # optional sections: every field is available, so they always print
        elif ch in "{}#":
            raise PrefixError(f"Pattern includes reserved character: '{ch}'")
        else:
            tokens.append(ch)
            i += 1
    return tokens


def _num(value: int, count: int) -> str:
    return str(value).zfill(count)


def _offset(dt: datetime) -> timedelta:
    return dt.utcoffset() or timedelta(0)


def _fmt_offset(dt: datetime, colon: bool, zero: str | None) -> str:
    off = _offset(dt)
    total = int(off.total_seconds())
    if total == 0 and zero is not None:
        return zero
    sign = "+" if total >= 0 else "-"
    hh, mm = divmod(abs(total) // 60, 60)
    return f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"


def _field(letter: str, count: int, dt: datetime) -> str:
    if letter in "yu":
        year = dt.year if letter == "u" or dt.year > 0 else 1 - dt.year
        return _num(year % 100, 2) if count == 2 else _num(year, count)
    if letter == "Y":
        year = dt.isocalendar()[0]
        return _num(year % 100, 2) if count == 2 else _num(year, count)
    if letter in "ML":
        if count <= 2:
            return _num(dt.month, count)
        name = _MONTHS[dt.month - 1]
        return name[:3] if count == 3 else (name if count == 4 else name[0])
    if letter == "d":
        return _num(dt.day, count)
    if letter == "D":
        return _num(dt.timetuple().tm_yday, count)
    if letter in "Qq":
        q = (dt.month - 1) // 3 + 1
        return _num(q, count) if count <= 2 else (f"Q{q}" if count == 3 else f"{['1st', '2nd', '3rd', '4th'][q - 1]} quarter")
    if letter in "Eec":
        if letter != "E" and count <= 2:
            return _num(dt.isoweekday() % 7 + 1, count)  # Sunday-start locale week day (US)
        name = _DAYS[dt.weekday()]
        return name[:3] if count <= 3 else (name if count == 4 else name[0])
    if letter == "a":
        return "AM" if dt.hour < 12 else "PM"
    if letter == "h":
        return _num((dt.hour % 12) or 12, count)
    if letter == "K":
        return _num(dt.hour % 12, count)
    if letter == "k":
        return _num(dt.hour or 24, count)
    if letter == "H":
        return _num(dt.hour, count)
    if letter == "m":
        return _num(dt.minute, count)
    if letter == "s":
        return _num(dt.second, count)
    if letter == "S":
        return f"{dt.microsecond:06d}000"[:count]
    if letter == "A":
        return _num(((dt.hour * 60 + dt.minute) * 60 + dt.second) * 1000 + dt.microsecond // 1000, count)
    if letter == "n":
        return _num(dt.microsecond * 1000, count)
    if letter == "N":
        return _num(((dt.hour * 60 + dt.minute) * 60 + dt.second) * 10**9 + dt.microsecond * 1000, count)
    if letter == "G":
        return "AD" if count <= 3 else ("Anno Domini" if count == 4 else "A")
    if letter == "w":
        return _num(dt.isocalendar()[1], count)
    if letter == "W":
        return str((dt.day - 1) // 7 + 1)
    if letter == "V":
        key = getattr(dt.tzinfo, "key", None)
        return str(key) if key else "Z"
    if letter == "z":
        return dt.tzname() or "UTC"
    if letter == "O":
        off = int(_offset(dt).total_seconds())
        if off == 0:
            return "GMT"
        sign = "+" if off > 0 else "-"
        hh, mm = divmod(abs(off) // 60, 60)
        return f"GMT{sign}{hh}" + (f":{mm:02d}" if mm or count == 4 else "") if count == 1 else f"GMT{sign}{hh:02d}:{mm:02d}"
    if letter == "X":
        return _fmt_offset(dt, count in (3, 5), "Z")[: 3 if count == 1 else None]
    if letter == "x":
        return _fmt_offset(dt, count in (3, 5), None)[: 3 if count == 1 else None]
    if letter == "Z":
        if count == 4:
            return "GMT" if not _offset(dt) else "GMT" + _fmt_offset(dt, True, None)
        return _fmt_offset(dt, count == 5, "Z" if count == 5 else None)
    raise PrefixError(f"Unknown pattern letter: {letter}")  # pragma: no cover - compile_pattern rejects first


def format_java(pattern: str, dt: datetime) -> str:
    """Format ``dt`` with a Java DateTimeFormatter pattern (English locale, as AWS evaluates it)."""
    return "".join(t if isinstance(t, str) else _field(t[0], t[1], dt) for t in compile_pattern(pattern))
