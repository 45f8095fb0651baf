"""The Logs Insights query language, the subset Nimbus serves (pure): parse a query string into a pipeline
of commands, then run it over records (dicts of field -> value).

Commands, separated by ``|`` (``#`` starts a comment line):

- ``fields a, b, expr as c``: the fields to show (and computed fields); ``display`` likewise, last one wins
- ``filter <condition>``: ``= == != < > <= >=`` (numbers compare as numbers), ``like "substring"``,
  ``like /regex/``, ``=~ /regex/``, ``not like``, ``in [..]``, ``not in [..]``, ``and``, ``or``, ``not``,
  parentheses, ``ispresent(f)``, ``isempty(f)``; functions ``strlen``, ``tolower``, ``toupper``, ``abs``
- ``parse <field> "glob * with * stars" as a, b`` or ``parse <field> /(?<name>regex)/``
- ``stats count(*), count(f), count_distinct(f), sum(f), avg(f), min(f), max(f) [as alias], ...
  [by f, bin(5m), ...]``
- ``sort f [asc|desc], ...`` (ascending by default), ``limit n``

A syntax error raises ``QueryError`` with the character offsets of the offending token.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]
Expr = Callable[[Record], Any]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\]|\\.)*/i?)
  | (?P<backtick>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<duration>\d+(?:ms|s|m|h|d|w)\b)
  | (?P<op>==|!=|<=|>=|=~|[=<>|,()\[\]*])
  | (?P<word>@?[A-Za-z_][A-Za-z0-9_.@$-]*)
    """,
    re.VERBOSE,
)
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max")
COMMANDS = ("fields", "display", "filter", "parse", "stats", "sort", "limit")


class QueryError(ValueError):
    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.start = start
        self.end = end


@dataclass(slots=True)
class Tok:
    kind: str
    text: str
    start: int
    end: int


def _tokenize(query: str) -> list[Tok]:
    # comments: a line starting with '#'
    query = "\n".join("" if line.lstrip().startswith("#") else line for line in query.split("\n"))
    out: list[Tok] = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:
            raise _unexpected(query, pos, pos + 1)
        kind = m.lastgroup or "ws"
        if kind != "ws":
            out.append(Tok(kind, m.group(kind), m.start(), m.end()))
        pos = m.end()
    return out


def _unexpected(query: str, start: int, end: int) -> QueryError:
    line = query.count("\n", 0, start) + 1
    column = start - (query.rfind("\n", 0, start) + 1) + 1
    return QueryError(f"unexpected symbol found {query[start:end]} at line {line} and position {column}", start, end)


# --------------------------------------------------------------------------------------------- values


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        x: Any = na
        y: Any = nb
    else:
        x, y = _text(a), _text(b)
    if op in ("=", "=="):
        return bool(x == y)
    if op == "!=":
        return bool(x != y)
    if op == "<":
        return bool(x < y)
    if op == ">":
        return bool(x > y)
    if op == "<=":
        return bool(x <= y)
    return bool(x >= y)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(name: str, value: Any) -> str:
    """A result value as Logs Insights prints it: timestamps as ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC)."""
    if name in ("@timestamp", "@ingestionTime") or isinstance(value, _Bin):
        ms = int(value)
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(round(value, 6))
    return _text(value)


class _Bin(int):
    """A bin() value: an epoch-ms int that renders as a timestamp."""


# --------------------------------------------------------------------------------------------- parser


@dataclass(slots=True)
class Aggregate:
    name: str
    func: str
    arg: Expr | None  # None: count(*)


@dataclass(slots=True)
class Command:
    kind: str
    # fields / display: [(name, expr)]; filter: expr; parse: (source, regex, names); stats: (aggs, groups);
    # sort: [(name, expr, descending)]; limit: n
    fields: list[tuple[str, Expr]] = field(default_factory=list)
    expr: Expr | None = None
    parse: tuple[Expr, re.Pattern[str], list[str]] | None = None
    aggregates: list[Aggregate] = field(default_factory=list)
    groups: list[tuple[str, Expr]] = field(default_factory=list)
    sort: list[tuple[Expr, bool]] = field(default_factory=list)
    limit: int = 0


@dataclass(slots=True)
class Query:
    commands: list[Command]

    @property
    def limit(self) -> int | None:
        limits = [c.limit for c in self.commands if c.kind == "limit"]
        return min(limits) if limits else None

    @property
    def has_stats(self) -> bool:
        return any(c.kind == "stats" for c in self.commands)

    def shown(self) -> list[str] | None:
        """The fields the results show (display wins, else every fields command's), None: all."""
        names: list[str] | None = None
        for c in self.commands:
            if c.kind == "display":
                names = [n for n, _ in c.fields]
            elif c.kind == "fields":
                names = (names or []) + [n for n, _ in c.fields if n not in (names or [])]
            elif c.kind == "stats":
                names = [n for n, _ in c.groups] + [a.name for a in c.aggregates]
        return names


class _Parser:
    def __init__(self, query: str, toks: list[Tok]) -> None:
        self.query = query
        self.toks = toks
        self.pos = 0

    def peek(self, offset: int = 0) -> Tok | None:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.kind in ("op", "word") and t.text.lower() in texts

    def next(self) -> Tok:
        t = self.peek()
        if t is None:
            end = len(self.query)
            raise QueryError(f"unexpected end of query at position {end}", max(end - 1, 0), end)
        self.pos += 1
        return t

    def expect(self, *texts: str) -> Tok:
        t = self.next()
        if t.text.lower() not in texts:
            raise _unexpected(self.query, t.start, t.end)
        return t

    def fail(self, t: Tok | None = None) -> QueryError:
        t = t or self.peek()
        if t is None:
            end = len(self.query)
            return QueryError(f"unexpected end of query at position {end}", max(end - 1, 0), end)
        return _unexpected(self.query, t.start, t.end)

    def end_of_command(self) -> bool:
        t = self.peek()
        return t is None or (t.kind == "op" and t.text == "|")

    def text_of(self, start: Tok, end: Tok) -> str:
        return self.query[start.start : end.end]

    # --- commands ---------------------------------------------------------------------------------

    def query_(self) -> Query:
        commands = []
        while True:
            if self.peek() is None:
                if not commands:
                    raise QueryError("The query is empty.", 0, 0)
                raise self.fail()
            commands.append(self.command())
            if self.peek() is None:
                return Query(commands)
            self.expect("|")

    def command(self) -> Command:
        t = self.next()
        word = t.text.lower()
        if t.kind != "word" or word not in COMMANDS:
            raise _unexpected(self.query, t.start, t.end)
        cmd = Command(word)
        if word in ("fields", "display"):
            cmd.fields = self.named_list()
        elif word == "filter":
            cmd.expr = self.expression()
        elif word == "parse":
            cmd.parse = self.parse_command()
        elif word == "stats":
            cmd.aggregates, cmd.groups = self.stats()
        elif word == "sort":
            while True:
                expr = self.expression()
                desc = False
                if self.at("asc", "desc"):
                    desc = self.next().text.lower() == "desc"
                cmd.sort.append((expr, desc))
                if not self.at(","):
                    break
                self.next()
        else:  # limit
            n = self.next()
            if n.kind != "number" or not n.text.isdigit() or int(n.text) < 1:
                raise _unexpected(self.query, n.start, n.end)
            cmd.limit = int(n.text)
        if not self.end_of_command():
            raise self.fail()
        return cmd

    def named_list(self) -> list[tuple[str, Expr]]:
        out = []
        while True:
            first = self.peek()
            expr = self.expression()
            last = self.toks[self.pos - 1]
            name = self._name(first, last)
            if self.at("as"):
                self.next()
                name = self.field_name(self.next())
            out.append((name, expr))
            if not self.at(","):
                return out
            self.next()

    def _name(self, first: Tok | None, last: Tok) -> str:
        if first is not None and first is last and first.kind in ("word", "backtick"):
            return self.field_name(first)
        return self.text_of(first or last, last)

    def field_name(self, t: Tok) -> str:
        if t.kind == "backtick":
            return t.text[1:-1]
        if t.kind != "word":
            raise _unexpected(self.query, t.start, t.end)
        return t.text

    def parse_command(self) -> tuple[Expr, re.Pattern[str], list[str]]:
        source = self.primary()
        t = self.next()
        if t.kind == "string":
            glob = _unquote(t.text)
            parts = glob.split("*")
            if len(parts) < 2:
                raise QueryError("parse: the pattern has no * to capture", t.start, t.end)
            self.expect("as")
            names = [self.field_name(self.next())]
            while self.at(","):
                self.next()
                names.append(self.field_name(self.next()))
            if len(names) != len(parts) - 1:
                raise QueryError(f"parse: {len(parts) - 1} * in the pattern but {len(names)} names", t.start, t.end)
            captures = ["(.*?)"] * (len(parts) - 2) + ["(.*)"]
            regex = "".join(re.escape(p) + (captures[i] if i < len(captures) else "") for i, p in enumerate(parts))
            return source, re.compile(regex, re.DOTALL), names
        if t.kind == "regex":
            body, flags = _regex_parts(t.text)
            try:
                regex_ = re.compile(body.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"), flags)
            except re.error as e:
                raise QueryError(f"parse: invalid regular expression: {e}", t.start, t.end) from e
            names = list(regex_.groupindex)
            if not names:
                raise QueryError("parse: the regular expression has no named group", t.start, t.end)
            return source, regex_, names
        raise _unexpected(self.query, t.start, t.end)

    def stats(self) -> tuple[list[Aggregate], list[tuple[str, Expr]]]:
        aggs: list[Aggregate] = []
        while True:
            t = self.next()
            func = t.text.lower()
            if t.kind != "word" or func not in AGGREGATES:
                raise _unexpected(self.query, t.start, t.end)
            self.expect("(")
            arg: Expr | None = None
            if self.at("*"):
                self.next()
                if func != "count":
                    raise self.fail(self.toks[self.pos - 1])
            elif self.at(")"):
                if func != "count":
                    raise self.fail()
            else:
                arg = self.expression()
            close = self.expect(")")
            name = self.text_of(t, close)
            if self.at("as"):
                self.next()
                name = self.field_name(self.next())
            aggs.append(Aggregate(name, func, arg))
            if not self.at(","):
                break
            self.next()
        groups: list[tuple[str, Expr]] = []
        if self.at("by"):
            self.next()
            groups = self.named_list()
        return aggs, groups

    # --- expressions ------------------------------------------------------------------------------

    def expression(self) -> Expr:
        left = self.conjunction()
        while self.at("or", "||"):
            self.next()
            right = self.conjunction()
            left = (lambda a, b: lambda r: bool(a(r)) or bool(b(r)))(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.at("and", "&&"):
            self.next()
            right = self.negation()
            left = (lambda a, b: lambda r: bool(a(r)) and bool(b(r)))(left, right)
        return left

    def negation(self) -> Expr:
        if self.at("not", "!"):
            self.next()
            inner = self.negation()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.primary()
        negate = False
        if self.at("not") and self.peek(1) is not None and self.peek(1).text.lower() in ("like", "in"):  # type: ignore[union-attr]
            self.next()
            negate = True
        if self.at("=", "==", "!=", "<", ">", "<=", ">="):
            op = self.next().text
            right = self.primary()
            return lambda r: _compare(op, left(r), right(r))
        if self.at("like", "=~"):
            op_tok = self.next()
            t = self.next()
            if t.kind == "regex":
                body, flags = _regex_parts(t.text)
                try:
                    regex = re.compile(body, flags)
                except re.error as e:
                    raise QueryError(f"invalid regular expression: {e}", t.start, t.end) from e
                test: Callable[[str], bool] = lambda s: regex.search(s) is not None  # noqa: E731
            elif t.kind == "string" and op_tok.text.lower() == "like":
                needle = _unquote(t.text)
                test = lambda s: needle in s  # noqa: E731
            else:
                raise _unexpected(self.query, t.start, t.end)

            def like(r: Record) -> bool:
                v = left(r)
                return v is not None and test(_text(v)) != negate

            return like
        if self.at("in"):
            self.next()
            self.expect("[")
            values = []
            while not self.at("]"):
                values.append(self.primary())
                if self.at(","):
                    self.next()
                elif not self.at("]"):
                    raise self.fail()
            self.next()

            def within(r: Record) -> bool:
                v = left(r)
                return v is not None and any(_compare("=", v, x(r)) for x in values) != negate

            return within
        if negate:
            raise self.fail()
        return left

    def primary(self) -> Expr:
        t = self.next()
        if t.kind == "number":
            value = float(t.text) if "." in t.text else int(t.text)
            return lambda r: value
        if t.kind == "string":
            text = _unquote(t.text)
            return lambda r: text
        if t.kind == "op" and t.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if t.kind in ("word", "backtick"):
            if t.kind == "word" and self.at("("):
                return self.function(t)
            name = self.field_name(t)
            return lambda r: r.get(name)
        raise _unexpected(self.query, t.start, t.end)

    def function(self, t: Tok) -> Expr:
        name = t.text.lower()
        self.expect("(")
        if name == "bin":
            d = self.next()
            if d.kind not in ("duration", "number"):
                raise _unexpected(self.query, d.start, d.end)
            m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)?", d.text)
            if m is None or int(m.group(1)) <= 0:
                raise _unexpected(self.query, d.start, d.end)
            period = int(m.group(1)) * _UNITS_MS[m.group(2) or "s"]
            self.expect(")")
            return lambda r: _Bin(int(r["@timestamp"]) // period * period)
        args = []
        if not self.at(")"):
            args.append(self.expression())
            while self.at(","):
                self.next()
                args.append(self.expression())
        self.expect(")")
        one: Expr = args[0] if args else (lambda r: None)
        if name == "ispresent":
            return lambda r: one(r) is not None
        if name == "isempty":
            return lambda r: one(r) is None or one(r) == ""
        if name == "strlen":
            return lambda r: None if one(r) is None else len(_text(one(r)))
        if name == "tolower":
            return lambda r: None if one(r) is None else _text(one(r)).lower()
        if name == "toupper":
            return lambda r: None if one(r) is None else _text(one(r)).upper()
        if name == "abs":
            return lambda r: None if number(one(r)) is None else abs(number(one(r)))  # type: ignore[arg-type]
        raise _unexpected(self.query, t.start, t.end)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _regex_parts(text: str) -> tuple[str, int]:
    flags = re.IGNORECASE if text.endswith("/i") else 0
    body = text[1:-2] if flags else text[1:-1]
    return body.replace("\\/", "/"), flags


def parse(query: str) -> Query:
    return _Parser(query, _tokenize(query)).query_()


# --------------------------------------------------------------------------------------------- execution


class Run:
    """One query's pipeline over records fed in chunks (``feed``), finished by ``results``."""

    def __init__(self, query: Query, *, limit: int) -> None:
        self.query = query
        self.limit = limit
        self.matched = 0
        self._rows: list[Record] = []
        # the commands up to the first stats run per record as records arrive; the rest at the end
        first_stats = next((i for i, c in enumerate(query.commands) if c.kind == "stats"), len(query.commands))
        self._streaming = query.commands[:first_stats]
        self._rest = query.commands[first_stats:]
        # without stats, and with no sort after a limit, only the first `cap` rows in sort order can be
        # answered: the rows kept are cut to those now and then, so memory follows the limit, not the data
        self._cap: int | None = None
        # the first stats command aggregates as records arrive, unless a sort or limit comes before it
        self._stats: Stats | None = None
        if self._rest and not any(c.kind in ("sort", "limit") for c in self._streaming):
            self._stats = Stats(self._rest[0])
        if not query.has_stats:
            kinds = [c.kind for c in query.commands if c.kind in ("sort", "limit")]
            if "sort" not in kinds[kinds.index("limit") if "limit" in kinds else len(kinds):]:
                self._cap = min([c.limit for c in query.commands if c.kind == "limit"] + [limit])

    def feed(self, records: Iterable[Record]) -> None:
        for r in records:
            out = _apply(self._streaming, r)
            if out is not None:
                self.matched += 1
                if self._stats is not None:
                    self._stats.add(out)
                else:
                    self._rows.append(out)
        if self._cap is not None and len(self._rows) > 2 * self._cap + 1000:
            self._rows = self._ordered(self._rows)[: self._cap]

    def _ordered(self, rows: list[Record]) -> list[Record]:
        """The rows in the order the sort commands (newest first without any) give them; stable."""
        sorts = [c for c in self._streaming if c.kind == "sort"]
        if not sorts:
            return sorted(rows, key=lambda r: r.get("@timestamp") or 0, reverse=True)
        for c in sorts:
            rows = _sort(c, rows)
        return rows

    def results(self) -> list[Record]:
        rows = self._rows
        if not self.query.has_stats and not any(c.kind == "sort" for c in self.query.commands):
            # no sort command: newest first, as the console's default query sorts
            rows = sorted(rows, key=lambda r: r.get("@timestamp") or 0, reverse=True)
        # per-record commands ran as records arrived; sort and limit act on the whole set, in their order
        for c in self._streaming:
            if c.kind == "sort":
                rows = _sort(c, rows)
            elif c.kind == "limit":
                rows = rows[: c.limit]
        rest = self._rest
        if self._stats is not None:
            rows, rest = self._stats.rows(), rest[1:]
        for c in rest:
            if c.kind == "stats":
                rows = _stats(c, rows)
            elif c.kind == "sort":
                rows = _sort(c, rows)
            elif c.kind == "limit":
                rows = rows[: c.limit]
            else:
                rows = [x for x in (_apply([c], r) for r in rows) if x is not None]
        return rows[: self.limit]


def _apply(commands: list[Command], r: Record) -> Record | None:
    for c in commands:
        if c.kind == "filter":
            assert c.expr is not None
            if not c.expr(r):
                return None
        elif c.kind in ("fields", "display"):
            for name, expr in c.fields:
                value = expr(r)
                if value is not None:
                    r[name] = value
        elif c.kind == "parse":
            assert c.parse is not None
            source, regex, names = c.parse
            text = source(r)
            if text is None:
                continue
            m = regex.search(_text(text))
            if m is None:
                continue
            for i, name in enumerate(names):
                value = m.group(name) if regex.groupindex else m.group(i + 1)
                if value is not None:
                    r[name] = value
        # sort and limit act on the whole set (results)
    return r


def _sort_key(value: Any) -> tuple[int, Any]:
    n = number(value)
    if n is not None:
        return (1, n)
    return (2, _text(value)) if value is not None else (0, "")


def _sort(c: Command, rows: list[Record]) -> list[Record]:
    for expr, desc in reversed(c.sort):
        present = [r for r in rows if expr(r) is not None]
        missing = [r for r in rows if expr(r) is None]
        present.sort(key=lambda r: _sort_key(expr(r)), reverse=desc)
        rows = present + missing
    return rows


class Stats:
    """One stats command's aggregates, fed record by record (memory: one state per group, not the rows)."""

    def __init__(self, c: Command) -> None:
        self.c = c
        self.groups: dict[tuple[Any, ...], list[list[Any]]] = {}

    def add(self, r: Record) -> None:
        key = tuple(expr(r) for _, expr in self.c.groups)
        if any(k is None for k in key):
            return
        states = self.groups.get(key)
        if states is None:
            # per aggregate: count, distinct texts, numeric sum, numeric count, min, max, text min, text max
            states = self.groups[key] = [[0, set() if a.func == "count_distinct" else None, 0.0, 0, None, None, None, None]
                                         for a in self.c.aggregates]
        for agg, st in zip(self.c.aggregates, states):
            v = agg.arg(r) if agg.arg is not None else 1
            if v is None:
                continue
            st[0] += 1
            if st[1] is not None:
                st[1].add(_text(v))
            if agg.func in ("sum", "avg", "min", "max"):
                n = number(v)
                if n is not None:
                    st[2] += n
                    st[3] += 1
                    st[4] = n if st[4] is None else min(st[4], n)
                    st[5] = n if st[5] is None else max(st[5], n)
                else:
                    t = _text(v)
                    st[6] = t if st[6] is None else min(st[6], t)
                    st[7] = t if st[7] is None else max(st[7], t)

    def rows(self) -> list[Record]:
        groups = dict(self.groups)
        if not self.c.groups and not groups:
            groups[()] = [[0, set(), 0.0, 0, None, None, None, None] for _ in self.c.aggregates]
        out = []
        for key, states in sorted(groups.items(), key=lambda kv: [_sort_key(k) for k in kv[0]]):
            row: Record = {name: k for (name, _), k in zip(self.c.groups, key)}
            for agg, st in zip(self.c.aggregates, states):
                if agg.func == "count":
                    row[agg.name] = st[0]
                elif agg.func == "count_distinct":
                    row[agg.name] = len(st[1] or ())
                elif agg.func == "sum":
                    row[agg.name] = st[2] if st[3] else None
                elif agg.func == "avg":
                    row[agg.name] = st[2] / st[3] if st[3] else None
                elif agg.func == "min":
                    row[agg.name] = st[4] if st[3] else st[6]
                else:
                    row[agg.name] = st[5] if st[3] else st[7]
            out.append(row)
        return out


def _stats(c: Command, rows: list[Record]) -> list[Record]:
    stats = Stats(c)
    for r in rows:
        stats.add(r)
    return stats.rows()
