"""Route matching for REST API resources and HTTP API route keys (aws-contracts.md D.1, D.4).

Both routers pick the most specific match, the way API Gateway does: at each path segment a literal
part beats a ``{param}`` part, which beats a greedy ``{name+}`` part; an exact method beats ``ANY``.
Matching is pure (no I/O): the control plane compiles a router once per deployment and the gateway
keeps it until the API changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


def split_path(path: str) -> list[str]:
    """``/a/b/`` -> ``["a", "b"]``; the root is ``[]``. Empty segments (``//``) are dropped."""
    return [p for p in path.split("/") if p]


@dataclass(slots=True)
class _Node:
    literal: dict[str, "_Node"] = field(default_factory=dict)
    param: "_Node | None" = None
    param_name: str = ""
    greedy: "_Node | None" = None
    greedy_name: str = ""
    value: Any = None  # what was registered at exactly this node


def _kind(part: str) -> tuple[str, str]:
    if part.startswith("{") and part.endswith("+}"):
        return "greedy", part[1:-2]
    if part.startswith("{") and part.endswith("}"):
        return "param", part[1:-1]
    return "literal", part


class PathTrie:
    """Templates like ``/items/{id}`` and ``/{proxy+}`` -> values; ``find(path)`` -> (value, params)."""

    def __init__(self) -> None:
        self._root = _Node()

    def add(self, template: str, value: Any) -> None:
        node = self._root
        for part in split_path(template):
            kind, name = _kind(part)
            if kind == "literal":
                node = node.literal.setdefault(part, _Node())
            elif kind == "param":
                if node.param is None:
                    node.param, node.param_name = _Node(), name
                node = node.param
            else:
                if node.greedy is None:
                    node.greedy, node.greedy_name = _Node(), name
                node = node.greedy
                break  # a greedy part is always the last one
        node.value = value

    def find(self, path: str, accept: Any = None) -> tuple[Any, dict[str, str]] | None:
        """The most specific template matching ``path`` (percent-encoded or not; parameters come
        back decoded). ``accept(value)`` may reject a candidate, so that e.g. a resource without the
        requested method lets a less specific one answer."""
        parts = split_path(path)
        params: dict[str, str] = {}
        found = self._walk(self._root, parts, 0, params, accept)
        return found

    def _walk(self, node: _Node, parts: list[str], i: int, params: dict[str, str], accept: Any) -> tuple[Any, dict[str, str]] | None:
        if i == len(parts):
            if node.value is not None and (accept is None or accept(node.value)):
                return node.value, dict(params)
            return None
        part = parts[i]
        child = node.literal.get(unquote(part)) if "%" in part else node.literal.get(part)
        if child is not None:
            hit = self._walk(child, parts, i + 1, params, accept)
            if hit is not None:
                return hit
        if node.param is not None:
            params[node.param_name] = unquote(part)
            hit = self._walk(node.param, parts, i + 1, params, accept)
            if hit is not None:
                return hit
            del params[node.param_name]
        if node.greedy is not None and node.greedy.value is not None:
            if accept is None or accept(node.greedy.value):
                out = dict(params)
                out[node.greedy_name] = unquote("/".join(parts[i:]))
                return node.greedy.value, out
        return None


# --- REST APIs (payload 1.0) ------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RestMatch:
    resource: dict[str, Any]  # {"id", "path", "resourceMethods": {METHOD: method doc}}
    method: dict[str, Any]  # the method doc (authorizationType, apiKeyRequired, methodIntegration)
    path_params: dict[str, str]


class RestRouter:
    """Resources of one deployment. ``match`` -> RestMatch, or None: AWS then answers 403
    ``Missing Authentication Token`` for an unknown path *and* for a known path without the method."""

    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self._trie = PathTrie()
        for res in resources:
            self._trie.add(res.get("path") or "/", res)

    @staticmethod
    def _method_of(resource: dict[str, Any], method: str) -> dict[str, Any] | None:
        methods: dict[str, Any] = resource.get("resourceMethods") or {}
        m = methods.get(method)
        if m is None:
            m = methods.get("ANY")
        return m

    def match(self, method: str, path: str) -> RestMatch | None:
        method = method.upper()
        hit = self._trie.find(path, accept=lambda res: self._method_of(res, method) is not None)
        if hit is None:
            return None
        resource, params = hit
        m = self._method_of(resource, method)
        if m is None:  # pragma: no cover - accept() guarantees it
            return None
        return RestMatch(resource, m, params)


# --- HTTP APIs (payload 2.0) ------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class HttpMatch:
    route: dict[str, Any]
    path_params: dict[str, str]


def parse_route_key(route_key: str) -> tuple[str, str] | None:
    """``"GET /items/{id}"`` -> ("GET", "/items/{id}"); ``"$default"`` -> None."""
    if route_key == "$default":
        return None
    method, _, path = route_key.strip().partition(" ")
    return method.upper(), path.strip() or "/"


class HttpRouter:
    """Routes of an HTTP API: ``METHOD /path`` and ``ANY /path`` keys, then ``$default``."""

    def __init__(self, routes: list[dict[str, Any]]) -> None:
        self._trie = PathTrie()
        self._default: dict[str, Any] | None = None
        by_path: dict[str, dict[str, dict[str, Any]]] = {}
        for route in routes:
            parsed = parse_route_key(route["RouteKey"])
            if parsed is None:
                self._default = route
                continue
            method, path = parsed
            by_path.setdefault(path, {})[method] = route
        for path, methods in by_path.items():
            self._trie.add(path, methods)

    def match(self, method: str, path: str) -> HttpMatch | None:
        method = method.upper()
        hit = self._trie.find(path, accept=lambda methods: method in methods or "ANY" in methods)
        if hit is not None:
            methods, params = hit
            return HttpMatch(methods.get(method) or methods["ANY"], params)
        if self._default is not None:
            return HttpMatch(self._default, {})
        return None
