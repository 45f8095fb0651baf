import pytest

from nimbus.services.logs.insights_query import QueryError, Run, parse, render

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def records() -> list[dict]:
    rows = []
    for i, (level, latency, msg) in enumerate([
        ("INFO", 10, "GET /a 200"), ("ERROR", 250, "GET /b 500"), ("INFO", 30, "POST /a 201"),
        ("WARN", 120, "GET /c 404"), ("ERROR", 90, "POST /b 503"),
    ]):
        rows.append({"@timestamp": T0 + i * 60_000, "@message": msg, "@logStream": "s1" if i % 2 else "s2",
                     "level": level, "latency": latency, "@ptr": f"p{i}"})
    return rows


def run(query: str, limit: int = 1000) -> list[dict]:
    r = Run(parse(query), limit=limit)
    r.feed(records())
    return r.results()


def test_filter_sort_limit_and_fields() -> None:
    got = run('fields @timestamp, level, latency | filter level = "ERROR" or latency > 100 | sort latency desc | limit 2')
    assert [r["latency"] for r in got] == [250, 120]
    assert parse("fields a, b as c | display c").shown() == ["c"]
    assert parse("fields a, strlen(@message) as n").shown() == ["a", "n"]
    assert [r["level"] for r in run('filter level in ["WARN", "ERROR"] and not latency < 100')] == ["WARN", "ERROR"]
    assert [r["@message"] for r in run("filter @message like /^POST/ | sort @timestamp asc")] == ["POST /a 201", "POST /b 503"]
    assert [r["@message"] for r in run('filter @message like "/b" | sort @timestamp')] == ["GET /b 500", "POST /b 503"]
    assert [r["@message"] for r in run('filter @message not like "GET" | sort @timestamp')] == ["POST /a 201", "POST /b 503"]
    assert len(run("filter ispresent(level) and not ispresent(nothing)")) == 5
    # no sort: newest first
    assert [r["@timestamp"] for r in run("fields @timestamp")] == sorted((T0 + i * 60_000 for i in range(5)), reverse=True)
    assert len(run("fields @message", limit=3)) == 3


def test_parse_glob_and_regex() -> None:
    got = run('parse @message "* * *" as method, path, status | filter status >= 500 | sort path')
    assert [(r["method"], r["path"], r["status"]) for r in got] == [("GET", "/b", "500"), ("POST", "/b", "503")]
    got = run(r"parse @message /(?<verb>[A-Z]+) (?<route>\S+)/ | stats count(*) as n by verb")
    assert got == [{"verb": "GET", "n": 3}, {"verb": "POST", "n": 2}]


def test_stats() -> None:
    got = run("stats count(*), sum(latency), avg(latency), min(latency), max(latency) by level")
    assert got == [
        {"level": "ERROR", "count(*)": 2, "sum(latency)": 340.0, "avg(latency)": 170.0, "min(latency)": 90.0, "max(latency)": 250.0},
        {"level": "INFO", "count(*)": 2, "sum(latency)": 40.0, "avg(latency)": 20.0, "min(latency)": 10.0, "max(latency)": 30.0},
        {"level": "WARN", "count(*)": 1, "sum(latency)": 120.0, "avg(latency)": 120.0, "min(latency)": 120.0, "max(latency)": 120.0},
    ]
    binned = run("stats count(*) as n by bin(2m)")
    assert [(render("bin(2m)", r["bin(2m)"]), r["n"]) for r in binned] == [
        ("2023-11-14 22:12:00.000", 1), ("2023-11-14 22:14:00.000", 2), ("2023-11-14 22:16:00.000", 2)]
    assert run("stats count(*) as n | sort n desc") == [{"n": 5}]
    assert run("filter level = 'NONE' | stats count(*)") == [{"count(*)": 0}]
    assert run("stats count(level) as c, count_distinct(level) as d") == [{"c": 5, "d": 3}]
    assert run("stats avg(latency) as a by level | sort a desc | limit 1") == [{"level": "ERROR", "a": 170.0}]


def test_render() -> None:
    assert render("@timestamp", T0 + 5) == "2023-11-14 22:13:20.005"
    assert render("x", 2.0) == "2" and render("x", 2.5) == "2.5" and render("x", True) == "true"


@pytest.mark.parametrize("bad", ["", "fields", "filter", "sort x sideways", "limit 0", "limit x", "stats nope(x)",
                                 "fields a |", "filter a = ", "frobnicate a", 'parse @message "no stars" as a',
                                 "stats count(*) by", "fields a b"])
def test_malformed(bad: str) -> None:
    with pytest.raises(QueryError):
        parse(bad)


def test_error_location() -> None:
    with pytest.raises(QueryError) as e:
        parse("fields a | frobnicate b")
    assert (e.value.start, e.value.end) == (11, 21)
    assert str(e.value) == "unexpected symbol found frobnicate at line 1 and position 12"


def test_rows_kept_follow_the_limit_not_the_data() -> None:
    rows = [{"@timestamp": T0 + i, "n": i % 97, "@message": f"m{i}"} for i in range(20_000)]
    for q, limit in (("fields n | sort n desc | limit 5", 1000), ("fields n", 10), ("sort n asc, @timestamp desc", 7)):
        run_ = Run(parse(q), limit=limit)
        for i in range(0, len(rows), 1000):
            run_.feed(dict(r) for r in rows[i : i + 1000])
        assert len(run_._rows) <= 2 * min(limit, 5 if "limit 5" in q else limit) + 2000
        full = Run(parse(q), limit=limit)
        full._cap = None
        full.feed(dict(r) for r in rows)
        assert run_.results() == full.results()
        assert run_.matched == full.matched == 20_000


def test_stats_after_a_sort_or_limit_counts_what_they_leave() -> None:
    assert run("sort latency | stats count(*) as n") == [{"n": 5}]
    assert run("sort latency desc | limit 2 | stats avg(latency) as a") == [{"a": 185.0}]
    assert run("stats count(*) as n by level | stats max(n) as most") == [{"most": 2}]
