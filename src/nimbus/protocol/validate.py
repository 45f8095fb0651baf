"""Input validation against botocore shapes: required members, types, lengths, ranges, enums, patterns.

Checks are compiled once per shape into closures. Type mismatches raise at once (a body that does not
fit the model is malformed, the service's ``malformed`` code); constraint failures are collected and
reported together in AWS's wording::

    1 validation error detected: Value 'x y' at 'deliveryStreamName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+
"""

from __future__ import annotations

import datetime as dt
import re
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


def _show(value: Any) -> str:
    # Every value is quoted, numbers and blobs too: "Value '0' at 'limit' ...", "Value
    # 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' ..." (as AWS answers)
    return f"'{_text(value)}'"


_RULE = " failed to satisfy constraint: "


def _constraint(problems: Problems, value: Any, path: Path, rule: str) -> None:
    problems.append((False, f"Value {_show(value)} at '{render_path(path)}'{_RULE}{rule}"))




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
            raise ValidationError(text, code=self.codes.missing if missing else self.codes.invalid)

    def _type_error(self, path: Path, expected: str, value: Any) -> SerializationError:
        where = f" at '{render_path(path)}'" if path else ""
        return SerializationError(
            f"Unexpected value type{where}: expected {expected}, got {type(value).__name__}",
            code=self.codes.malformed,
        )

    def _pattern(self, pattern: str) -> re.Pattern[str] | None:
        if pattern not in self._patterns:
            try:
                self._patterns[pattern] = re.compile(pattern)
            except (re.error, OverflowError):
                self._patterns[pattern] = None  # Java-only syntax (\p{...} etc.): skip, leniently
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
        members = [(name, lower_first(name), self.check_for(member)) for name, member in shape.members.items()]
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
