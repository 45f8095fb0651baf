"""The route index only prunes: for every served REST model, requests built from every operation's
template (labels filled with plain, slashed, empty and encoded values, each literal query, extra keys)
and odd paths route exactly as a match over all of the method's routes does."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from nimbus.protocol.dispatch import Route, ServiceProtocol, compile_route

SERVICES = ["s3", "lambda", "apigateway", "apigatewayv2"]
LABEL_VALUES = ["b", "my-bucket", "a/b", "a/b/c/", "x%2Fy", "v1", "2015-03-31", "uploads", "%20", ""]


def _best(routes: list[Route], target: str, query: list[tuple[str, str]], headers: dict[str, str]) -> str | None:
    """The matcher before the index: every route of the method is tried, the best score wins."""
    target = target.split("?", 1)[0] or "/"
    keys: dict[str, str] = {}
    for k, v in query:
        keys.setdefault(k, v)
    best: tuple[tuple[int, ...], str] | None = None
    for route in routes:
        if route.pattern.match(target) is None:
            continue
        if any(keys.get(k) is None or (v is not None and keys[k] != v) for k, v in route.literal_query):
            continue
        present = sum(1 for k in route.required_query if k in keys) + sum(1 for h in route.required_headers if h in headers)
        score = (
            int(present == len(route.required_query) + len(route.required_headers)),
            route.literal_segments,
            len(route.literal_query),
            present,
            int(not route.deprecated),
            -route.index,
        )
        if best is None or score > best[0]:
            best = (score, route.operation)
    return None if best is None else best[1]


def _paths(template: str, rng: random.Random) -> list[str]:
    path = template.partition("?")[0]
    labels = re.findall(r"\{[^}]+\}", path)
    out = set()
    for _ in range(12):
        filled = path
        for label in labels:
            filled = filled.replace(label, rng.choice(LABEL_VALUES), 1)
        out.add(filled)
        out.add(filled + "/")
    return sorted(out)


@pytest.mark.parametrize("service", SERVICES)
def test_index_routes_like_a_linear_match(service: str) -> None:
    proto = ServiceProtocol(service)
    rng = random.Random(7)
    routes = [compile_route(proto.operation_model(n), i) for i, n in enumerate(proto.model.operation_names)]
    by_method: dict[str, list[Route]] = {}
    for r in routes:
        by_method.setdefault(r.method, []).append(r)
    query_options: list[list[tuple[str, str]]] = [[], [("x-id", "GetObject")], [("unknown", "1")]]
    for r in routes:
        literal = [(k, v if v is not None else "") for k, v in r.literal_query]
        query_options.append(literal)
        query_options.append(literal + [(k, "1") for k in r.required_query])
    extra_paths = ["/", "//", "///", "", "/a//b", "/a/b/c/d/e/f/g/h/i/j/k/l/m", "/" + "x/" * 40, "/%2F"]
    checked = 0
    for r in routes:
        for target, query in itertools.product(_paths(proto.operation_model(r.operation).http["requestUri"], rng) + extra_paths, rng.sample(query_options, 6)):
            for headers in ({}, {h: "v" for h in r.required_headers}):
                for method in (r.method, "GET"):
                    expected = _best(by_method.get(method, []), target, query, headers)
                    found = proto.match_rest(method, target, query, headers, raw_path=target)
                    assert (found[0] if found else None) == expected, (method, target, query, headers)
                    checked += 1
    assert checked > 1000
