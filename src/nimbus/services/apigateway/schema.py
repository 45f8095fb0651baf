"""The JSON-schema (draft 4) subset a REST API model is checked with when a request validator validates
bodies: ``type`` (one or a list), ``required``, ``properties``, ``additionalProperties`` (false or a
schema), ``items``, ``enum``, ``minimum``/``maximum`` (with draft 4's boolean ``exclusive*``),
``minLength``/``maxLength``, ``minItems``/``maxItems``, ``pattern``, ``allOf``/``anyOf``/``oneOf``/``not``,
and ``$ref`` to ``#/definitions/...`` or to another model of the API
(``https://apigateway.amazonaws.com/restapis/{api}/models/{name}``). Other keywords are ignored.
Pure: the caller passes the parsed schema and a resolver for other models.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32
_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _pattern(p: str) -> re.Pattern[str] | None:
    if p not in _PATTERNS:
        try:
            _PATTERNS[p] = re.compile(p)
        except re.error:
            _PATTERNS[p] = None
    return _PATTERNS[p]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}.get(type(value), "unknown")


def validate(value: Any, schema: dict[str, Any], resolve: Callable[[str], dict[str, Any] | None],
             root: dict[str, Any] | None = None, where: str = "", depth: int = 0) -> list[str]:
    """The errors of ``value`` against ``schema`` (empty when it conforms)."""
    root = schema if root is None else root
    if depth > MAX_DEPTH or not isinstance(schema, dict):
        return []
    errors: list[str] = []
    at = where or "/"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target: dict[str, Any] | None = None
        if ref.startswith("#/"):
            node: Any = root
            for part in ref[2:].split("/"):
                node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
            target = node if isinstance(node, dict) else None
            new_root = root
        else:
            target = resolve(ref.rstrip("/").rsplit("/", 1)[-1])
            new_root = target or {}
        if target is None:
            return [f"{at}: unresolvable $ref {ref}"]
        return validate(value, target, resolve, new_root, where, depth + 1)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_type_ok(value, str(k)) for k in kinds):
            return [f"instance type ({_describe(value)}) does not match any allowed primitive type (allowed: {kinds}) at {at}"]
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        errors.append(f"instance value ({value!r}) not found in enum at {at}")
    if isinstance(value, str):
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            errors.append(f"string is too short at {at}")
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            errors.append(f"string is too long at {at}")
        if isinstance(schema.get("pattern"), str):
            pat = _pattern(schema["pattern"])
            if pat is not None and pat.search(value) is None:
                errors.append(f"ECMA 262 regex \"{schema['pattern']}\" does not match input string at {at}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if isinstance(lo, (int, float)) and (value < lo or (schema.get("exclusiveMinimum") is True and value == lo)):
            errors.append(f"numeric instance is lower than the required minimum (minimum: {lo}, found: {value}) at {at}")
        if isinstance(hi, (int, float)) and (value > hi or (schema.get("exclusiveMaximum") is True and value == hi)):
            errors.append(f"numeric instance is greater than the required maximum (maximum: {hi}, found: {value}) at {at}")
    if isinstance(value, dict):
        required = schema.get("required")
        if isinstance(required, list):
            missing = [str(r) for r in required if r not in value]
            if missing:
                errors.append(f"object has missing required properties ({missing}) at {at}")
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                errors += validate(v, props[k], resolve, root, f"{where}/{k}", depth + 1)
            elif extra is False:
                errors.append(f"object instance has properties which are not allowed by the schema: [{k!r}] at {at}")
            elif isinstance(extra, dict):
                errors += validate(v, extra, resolve, root, f"{where}/{k}", depth + 1)
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                errors += validate(v, items, resolve, root, f"{where}/{i}", depth + 1)
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            errors.append(f"array is too short at {at}")
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            errors.append(f"array is too long at {at}")
    for sub in schema.get("allOf") or []:
        errors += validate(value, sub, resolve, root, where, depth + 1)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and any_of and all(validate(value, s, resolve, root, where, depth + 1) for s in any_of):
        errors.append(f"instance failed to match at least one required schema among {len(any_of)} at {at}")
    one_of = schema.get("oneOf")
    if isinstance(one_of, list) and one_of and sum(not validate(value, s, resolve, root, where, depth + 1) for s in one_of) != 1:
        errors.append(f"instance failed to match exactly one schema at {at}")
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], resolve, root, where, depth + 1):
        errors.append(f"instance matched a schema which it should not have at {at}")
    return errors
