"""ListLogGroups (the newer listing): the model's small pattern language, class and tag filters, paging."""

from __future__ import annotations

from typing import Any


def names(out: dict[str, Any]) -> list[str]:
    return [g["logGroupName"] for g in out["logGroups"]]


def test_list_log_groups(logs: Any) -> None:
    for name, tags, cls in [("/aws/lambda/alpha", {"team": "a"}, None), ("/aws/lambda/beta", {"team": "b"}, None),
                            ("/app/discovery", {}, "INFREQUENT_ACCESS"), ("/app/Discovery-Upper", {"env": "x"}, None)]:
        kw: dict[str, Any] = {"tags": tags} if tags else {}
        if cls:
            kw["logGroupClass"] = cls
        logs.create_log_group(logGroupName=f"/llg{name}", **kw)
    out = logs.list_log_groups(logGroupNamePattern="^/llg/")
    assert names(out) == ["/llg/app/Discovery-Upper", "/llg/app/discovery", "/llg/aws/lambda/alpha", "/llg/aws/lambda/beta"]
    first = out["logGroups"][2]
    assert first == {"logGroupName": "/llg/aws/lambda/alpha", "logGroupClass": "STANDARD",
                     "logGroupArn": "arn:aws:logs:us-east-1:000000000000:log-group:/llg/aws/lambda/alpha"}
    # prefix or substring alternatives, case-sensitive; "." is any character
    assert names(logs.list_log_groups(logGroupNamePattern="^/llg/aws/lambda|discovery")) == [
        "/llg/app/discovery", "/llg/aws/lambda/alpha", "/llg/aws/lambda/beta"]
    assert names(logs.list_log_groups(logGroupNamePattern="lambda/.eta")) == ["/llg/aws/lambda/beta"]
    assert names(logs.list_log_groups(logGroupNamePattern="^/llg/", logGroupClass="INFREQUENT_ACCESS")) == ["/llg/app/discovery"]
    assert names(logs.list_log_groups(logGroupNamePattern="^/llg/", logGroupTags=[{"key": "team", "values": ["b"]}])) == [
        "/llg/aws/lambda/beta"]
    assert len(logs.list_log_groups(logGroupNamePattern="^/llg/", logGroupTags=[{"key": "team"}])["logGroups"]) == 2
    # nothing here has data sources or field indexes
    assert logs.list_log_groups(logGroupNamePattern="^/llg/", fieldIndexNames=["requestId"])["logGroups"] == []
    # pages
    seen, token = [], None
    while True:
        page = logs.list_log_groups(logGroupNamePattern="^/llg/", limit=3, **({"nextToken": token} if token else {}))
        seen += names(page)
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names(out)
