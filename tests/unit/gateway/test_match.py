from nimbus.gateway.match import HttpRouter, PathTrie, RestRouter


def res(rid, path, *methods):
    return {"id": rid, "path": path, "resourceMethods": {m: {"httpMethod": m} for m in methods}}


def test_literal_beats_param_beats_greedy():
    router = RestRouter([
        res("r", "/"),
        res("a", "/items/{id}", "GET"),
        res("b", "/items/special", "GET"),
        res("c", "/{proxy+}", "ANY"),
    ])
    assert router.match("GET", "/items/special").resource["id"] == "b"
    m = router.match("GET", "/items/42")
    assert m.resource["id"] == "a" and m.path_params == {"id": "42"}
    m = router.match("GET", "/other/a/b")
    assert m.resource["id"] == "c" and m.path_params == {"proxy": "other/a/b"}
    # a resource without the method falls back to the greedy ANY
    m = router.match("DELETE", "/items/42")
    assert m.resource["id"] == "c" and m.path_params == {"proxy": "items/42"}


def test_root_and_unknown():
    router = RestRouter([res("r", "/", "GET"), res("f", "/fn", "ANY")])
    assert router.match("GET", "/").resource["id"] == "r"
    assert router.match("POST", "/") is None
    assert router.match("PUT", "/fn/").resource["id"] == "f"
    assert router.match("GET", "/nope") is None


def test_params_are_decoded_and_greedy_needs_a_segment():
    router = RestRouter([res("p", "/a/{proxy+}", "GET"), res("q", "/u/{name}", "GET")])
    assert router.match("GET", "/a") is None
    assert router.match("GET", "/a/x%20y/z").path_params == {"proxy": "x y/z"}
    assert router.match("GET", "/u/J%C3%BCrgen").path_params == {"name": "Jürgen"}


def test_exact_method_beats_any():
    router = RestRouter([{"id": "x", "path": "/p", "resourceMethods": {"ANY": {"httpMethod": "ANY"}, "GET": {"httpMethod": "GET"}}}])
    assert router.match("GET", "/p").method["httpMethod"] == "GET"
    assert router.match("POST", "/p").method["httpMethod"] == "ANY"


def test_http_router():
    routes = [
        {"RouteKey": "GET /items/{id}", "RouteId": "1"},
        {"RouteKey": "ANY /items/{id}", "RouteId": "2"},
        {"RouteKey": "GET /files/{proxy+}", "RouteId": "3"},
        {"RouteKey": "$default", "RouteId": "4"},
    ]
    router = HttpRouter(routes)
    assert router.match("GET", "/items/7").route["RouteId"] == "1"
    assert router.match("POST", "/items/7").route["RouteId"] == "2"
    m = router.match("GET", "/files/a/b.txt")
    assert m.route["RouteId"] == "3" and m.path_params == {"proxy": "a/b.txt"}
    assert router.match("GET", "/zzz").route["RouteId"] == "4"
    assert HttpRouter(routes[:1]).match("GET", "/zzz") is None


def test_trie_backtracks():
    t = PathTrie()
    t.add("/a/b/c", "abc")
    t.add("/a/{x}/d", "xd")
    assert t.find("/a/b/d") == ("xd", {"x": "b"})
