"""Metric math for GetMetricData and alarms (pure): a subset of CloudWatch's expression language.

Supported: numbers, query ids, ``+ - * / ^``, unary minus, parentheses, ``METRICS()`` / ``METRICS('text')``
(the MetricStat queries, or those whose label contains the text), and the functions ``SUM AVG MIN MAX``
(over an array: a time series of the per-timestamp aggregate; over one time series: a scalar, as CloudWatch
defines them), ``ABS``, ``FILL(m, number)`` (every period of the window without a value gets the number). Arithmetic between two time series keeps the timestamps both
have. Anything else raises ``ExpressionError`` with a message naming what is not supported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

Series = dict[int, float]


@dataclass(slots=True)
class Labeled:
    label: str
    series: Series


Value = Union[float, Series, list[Labeled]]


class ExpressionError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|('[^']*'|\"[^\"]*\")|(.))")
_BINARY = {"+": 10, "-": 10, "*": 20, "/": 20, "^": 30}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            break
        pos = found.end()
        number, name, string, other = found.groups()
        if number is not None:
            out.append(("num", number))
        elif name is not None:
            out.append(("name", name))
        elif string is not None:
            out.append(("str", string[1:-1]))
        elif other is not None and other.strip():
            out.append(("op", other))
    out.append(("end", ""))
    return out


class _Parser:
    def __init__(self, text: str, resolve: Callable[[str], Value], metrics: Callable[[str | None], list[Labeled]],
                 grid: list[int]) -> None:
        self.grid = grid
        self.tokens = _tokens(text)
        self.pos = 0
        self.resolve = resolve
        self.metrics = metrics

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        kind, text = self.take()
        if (kind, text) != ("op", op):
            raise ExpressionError(f"Syntax error: expected '{op}', found '{text or 'end of expression'}'.")

    def parse(self) -> Value:
        value = self.expression(0)
        if self.peek()[0] != "end":
            raise ExpressionError(f"Syntax error: unexpected '{self.peek()[1]}'.")
        return value

    def expression(self, min_power: int) -> Value:
        left = self.unary()
        while True:
            kind, op = self.peek()
            power = _BINARY.get(op) if kind == "op" else None
            if power is None or power < min_power:
                return left
            self.take()
            right = self.expression(power + (0 if op == "^" else 1))
            left = _binary(op, left, right)

    def unary(self) -> Value:
        kind, text = self.peek()
        if (kind, text) == ("op", "-"):
            self.take()
            return _binary("*", -1.0, self.unary())
        return self.primary()

    def primary(self) -> Value:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if (kind, text) == ("op", "("):
            value = self.expression(0)
            self.expect(")")
            return value
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args: list[Value] = []
                strings: list[str] = []
                while self.peek() != ("op", ")"):
                    if self.peek()[0] == "str":
                        strings.append(self.take()[1])
                    else:
                        args.append(self.expression(0))
                    if self.peek() == ("op", ","):
                        self.take()
                    elif self.peek() != ("op", ")"):
                        raise ExpressionError(f"Syntax error in the arguments of {text}.")
                self.expect(")")
                return self.call(text.upper(), args, strings)
            return self.resolve(text)
        raise ExpressionError(f"Syntax error: unexpected '{text or 'end of expression'}'.")

    def call(self, name: str, args: list[Value], strings: list[str]) -> Value:
        if name == "METRICS":
            return self.metrics(strings[0] if strings else None)
        if name in _AGGREGATES:
            if len(args) != 1:
                raise ExpressionError(f"{name} takes one argument.")
            return _aggregate(name, args[0])
        if name == "ABS" and len(args) == 1:
            return _map(args[0], abs)
        if name == "FILL" and len(args) == 2 and isinstance(args[1], float):
            fill = args[1]

            def filled(series: Series) -> Series:
                return {ts: series.get(ts, fill) for ts in self.grid}

            target = args[0]
            if isinstance(target, list):
                return [Labeled(item.label, filled(item.series)) for item in target]
            return filled(target) if isinstance(target, dict) else target
        raise ExpressionError(f"The function {name} is not supported by Nimbus's metric math.")


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "SUM": math.fsum,
    "AVG": lambda xs: math.fsum(xs) / len(xs),
    "MIN": min,
    "MAX": max,
}


def _aggregate(name: str, value: Value) -> Value:
    fn = _AGGREGATES[name]
    if isinstance(value, list):
        grid: dict[int, list[float]] = {}
        for item in value:
            for ts, v in item.series.items():
                grid.setdefault(ts, []).append(v)
        return {ts: fn(vs) for ts, vs in sorted(grid.items())}
    if isinstance(value, dict):
        return fn(list(value.values())) if value else math.nan
    return value


def _map(value: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(value, list):
        return [Labeled(item.label, {ts: fn(v) for ts, v in item.series.items()}) for item in value]
    if isinstance(value, dict):
        return {ts: fn(v) for ts, v in value.items()}
    return fn(value)


def _apply(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b != 0 else math.nan
    try:
        return float(a**b)
    except (OverflowError, ZeroDivisionError, TypeError):
        return math.nan


def _binary(op: str, left: Value, right: Value) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        if isinstance(left, list) and isinstance(right, list):
            raise ExpressionError("Arithmetic between two arrays of time series is not supported.")
        if isinstance(left, list):
            return [Labeled(item.label, _binary(op, item.series, right)) for item in left]  # type: ignore[arg-type]
        assert isinstance(right, list)
        return [Labeled(item.label, _binary(op, left, item.series)) for item in right]  # type: ignore[arg-type]
    if isinstance(left, dict) and isinstance(right, dict):
        return {ts: _apply(op, v, right[ts]) for ts, v in left.items() if ts in right}
    if isinstance(left, dict):
        return {ts: _apply(op, v, float(right)) for ts, v in left.items()}  # type: ignore[arg-type]
    if isinstance(right, dict):
        return {ts: _apply(op, float(left), v) for ts, v in right.items()}
    return _apply(op, float(left), float(right))


def evaluate(text: str, values: Mapping[str, Value], labels: Mapping[str, str], metric_ids: list[str],
             grid: list[int] | None = None) -> Value:
    """Evaluate ``text`` with ``values`` (query id -> its result); ``metric_ids``: the MetricStat queries
    ``METRICS()`` stands for, in order; ``grid``: the period starts of the window (what FILL fills)."""

    def resolve(name: str) -> Value:
        if name not in values:
            raise ExpressionError(f"Unknown metric id or function: {name}")
        return values[name]

    def metrics(text: str | None) -> list[Labeled]:
        out = []
        for mid in metric_ids:
            label = labels.get(mid, mid)
            if text is None or text in label:
                value = values.get(mid)
                if isinstance(value, dict):
                    out.append(Labeled(label, value))
        return out

    return _Parser(text, resolve, metrics, grid or []).parse()


def references(text: str) -> set[str]:
    """The names an expression mentions (for ordering queries that refer to one another)."""
    return {t for kind, t in _tokens(text) if kind == "name"}
