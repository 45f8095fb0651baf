import pytest

from nimbus.gateway.auth import GatewayError, UsageMeter, cors_headers, period_start, preflight


def test_throttle_burst_then_refill():
    meter = UsageMeter()
    plan = {"id": "p", "throttle": {"rateLimit": 1.0, "burstLimit": 2}}
    meter.check(plan, "k", now=100.0)
    meter.check(plan, "k", now=100.0)
    with pytest.raises(GatewayError) as e:
        meter.check(plan, "k", now=100.1)
    assert e.value.status == 429 and e.value.message == "Too Many Requests"
    meter.check(plan, "k", now=101.2)  # one token back after a second
    meter.check(plan, "other", now=101.2)  # per key


def test_quota_per_period():
    meter = UsageMeter()
    plan = {"id": "p", "quota": {"limit": 2, "period": "DAY"}}
    day = 1_700_000_000.0
    meter.check(plan, "k", now=day)
    meter.check(plan, "k", now=day + 1)
    with pytest.raises(GatewayError) as e:
        meter.check(plan, "k", now=day + 2)
    assert e.value.status == 429 and e.value.message == "Limit Exceeded"
    meter.check(plan, "k", now=day + 86_400)  # next day
    assert period_start("MONTH", 0, day) <= day < period_start("MONTH", 0, day) + 31 * 86400


def test_cors_preflight_and_headers():
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["X-Custom"],
            "MaxAge": 300, "ExposeHeaders": ["x-id"]}
    hdrs = {"origin": "https://app.example", "access-control-request-method": "POST"}
    status, out = preflight(cors, "OPTIONS", hdrs)
    d = dict(out)
    assert status == 200 and d["Access-Control-Allow-Origin"] == "https://app.example"
    assert d["Access-Control-Allow-Methods"] == "GET,POST" and d["Access-Control-Max-Age"] == "300"
    assert d["Access-Control-Allow-Headers"] == "x-custom"
    status, out = preflight(cors, "OPTIONS", {"origin": "https://evil.example", "access-control-request-method": "GET"})
    assert out == []
    assert preflight(cors, "GET", hdrs) is None and preflight(None, "OPTIONS", hdrs) is None
    assert dict(cors_headers(cors, {"origin": "https://app.example"}))["Access-Control-Expose-Headers"] == "x-id"
    assert dict(cors_headers({"AllowOrigins": ["*"]}, {"origin": "https://x"}))["Access-Control-Allow-Origin"] == "*"


def test_quota_usage_is_persisted_write_behind():
    import asyncio

    from nimbus.gateway.auth import QUOTA_KIND
    from nimbus.storage.memory import MemoryMetadataStore

    store = MemoryMetadataStore()
    plan = {"id": "p", "quota": {"limit": 5, "period": "DAY"}}
    day = 1_700_000_000.0
    meter = UsageMeter(store, flush_every=2)
    meter.check(plan, "k", now=day)
    assert store.list(QUOTA_KIND) == []  # one unsaved count: not written yet
    meter.check(plan, "k", now=day + 1)  # the second reaches flush_every
    assert [d["used"] for _, d in store.list(QUOTA_KIND)] == [2]
    meter.check(plan, "k", now=day + 2)
    asyncio.run(meter.aclose())  # shutdown saves the rest
    again = UsageMeter(store)  # a restarted server continues the count
    assert again.used("p", "k", now=day + 3) == 3
    again.check(plan, "k", now=day + 3)
    again.check(plan, "k", now=day + 4)
    with pytest.raises(GatewayError):
        again.check(plan, "k", now=day + 5)
    asyncio.run(again.aclose())
    # a new period starts from zero and drops the rows of the old one
    again.check(plan, "k", now=day + 86_400)
    asyncio.run(again.aclose())
    assert [d["used"] for _, d in store.list(QUOTA_KIND)] == [1]


def test_quota_flush_timer():
    import asyncio

    from nimbus.gateway.auth import QUOTA_KIND
    from nimbus.storage.memory import MemoryMetadataStore

    store = MemoryMetadataStore()
    meter = UsageMeter(store, flush_every=1000, flush_interval_s=0.0)
    plan = {"id": "p", "quota": {"limit": 5, "period": "DAY"}}

    async def run() -> None:
        meter.check(plan, "k")
        while not store.list(QUOTA_KIND):  # the timer saves it without any further request
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(run(), 10))
    assert [d["used"] for _, d in store.list(QUOTA_KIND)] == [1]
