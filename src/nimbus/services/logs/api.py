"""LogsApi: the CloudWatch Logs operations Nimbus serves (json 1.1), shape in → engine → shape out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nimbus.services.base import RequestContext
from nimbus.services.logs.cross_account import LogDestinations
from nimbus.services.logs.groups import InvalidParameterException, LogGroups, ResourceNotFoundException, group_name
from nimbus.services.logs.exports import ExportTasks
from nimbus.services.logs.livetail import SESSION_SECONDS, LiveTails
from nimbus.services.logs.metric_filters import MetricFilters
from nimbus.services.logs.saved import AccountPolicies, DataProtectionPolicies, QueryDefinitions, ResourcePolicies
from nimbus.services.logs.sink import logs_engine, metric_filters_of, subscriptions_of

if TYPE_CHECKING:
    from nimbus.services.logs.insights import Queries
    from nimbus.server import Nimbus


def create_api(core: Nimbus) -> LogsApi:
    return LogsApi(core)


def _group(params: dict[str, Any]) -> str:
    """The group of an operation taking logGroupName or logGroupIdentifier: one of them, never both."""
    if params.get("logGroupName") and params.get("logGroupIdentifier"):
        raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    name = params.get("logGroupName") or params.get("logGroupIdentifier")
    if not name:
        raise InvalidParameterException("Either logGroupName or logGroupIdentifier must be specified.")
    return group_name(name)


class LogsApi:
    def __init__(self, core: Nimbus) -> None:
        self.core = core
        self._engine: LogGroups | None = None

    @property
    def engine(self) -> LogGroups:
        if self._engine is None:
            self._engine = logs_engine(self.core)
        return self._engine

    @property
    def queries(self) -> Queries:
        from nimbus.services.logs.insights import Queries  # Insights is loaded on its first query, not at boot

        engine = self.engine
        return self.core.component("logs.queries", lambda: Queries(engine, clock_time=self.core.clock.time))

    @property
    def live_tails(self) -> LiveTails:
        def build() -> LiveTails:
            tails = LiveTails(self.core.clock.time)
            self.engine.listeners.append(tails)
            return tails

        return self.core.component("logs.livetail", build)

    async def start_live_tail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Live Tail (livetail.py): the events ingested while the stream is open, an update every second."""
        identifiers = list(params["logGroupIdentifiers"])
        streams, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
        if streams and prefixes:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.")
        if (streams or prefixes) and len(identifiers) != 1:
            raise InvalidParameterException("Only one log group can be specified when logStreamNames or logStreamNamePrefixes is set.")
        for identifier in identifiers:
            if identifier.endswith("*"):
                raise InvalidParameterException("LogGroup ARN cannot end with an asterisk.")
            if not self.engine.group_exists(ctx.account_id, ctx.region, group_name(identifier)):
                raise ResourceNotFoundException(f"Log group {identifier} does not exist.")
        pattern = params.get("logEventFilterPattern")
        session = self.live_tails.open(ctx.account_id, ctx.region, identifiers, streams, prefixes, pattern)
        start = {"logGroupIdentifiers": identifiers}
        for key, value in (("logStreamNames", streams), ("logStreamNamePrefixes", prefixes), ("logEventFilterPattern", pattern)):
            if value:
                start[key] = value
        seconds = float(self.core.settings.extra.get("NIMBUS_LOGS_LIVE_TAIL_SECONDS") or SESSION_SECONDS)
        return {"responseStream": self.live_tails.stream(session, ctx.request_id, start, seconds)}

    async def start(self) -> None:
        """At boot (logs is EAGER): subscription filters resume delivering what was pending; export tasks a
        crash interrupted run again."""
        _ = self.engine
        self.exports.resume()

    @property
    def exports(self) -> ExportTasks:
        return self.core.component("logs.exports", lambda: ExportTasks(self.core, self.engine))

    @property
    def query_definitions(self) -> QueryDefinitions:
        return self.core.component("logs.querydefs", lambda: QueryDefinitions(self.core.storage.metadata, self.core.clock.time))

    @property
    def log_destinations(self) -> LogDestinations:
        return self.core.component("logs.destinations", lambda: LogDestinations(self.core.storage.metadata, self.core.clock.time))

    # Destinations (cross_account.py)
    async def put_destination(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"destination": self.log_destinations.put(ctx.account_id, ctx.region, params)}

    async def put_destination_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.log_destinations.put_policy(ctx.account_id, ctx.region, params["destinationName"], params["accessPolicy"])
        return {}

    async def describe_destinations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows, token = self.log_destinations.describe(ctx.account_id, ctx.region, prefix=params.get("DestinationNamePrefix"),
                                                     token=params.get("nextToken"), limit=params.get("limit"))
        out: dict[str, Any] = {"destinations": rows}
        if token:
            out["nextToken"] = token
        return out

    async def delete_destination(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.log_destinations.delete(ctx.account_id, ctx.region, params["destinationName"])
        return {}

    @property
    def data_protection(self) -> DataProtectionPolicies:
        return self.core.component("logs.dataprotection", lambda: DataProtectionPolicies(
            self.core.storage.metadata, self.core.clock.time, self.engine._group))

    # Data protection policies (saved.py): recorded, masking not applied
    async def put_data_protection_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ident = params["logGroupIdentifier"]
        return self.data_protection.put(ctx.account_id, ctx.region, group_name(ident), ident, params["policyDocument"])

    async def get_data_protection_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ident = params["logGroupIdentifier"]
        return self.data_protection.get(ctx.account_id, ctx.region, group_name(ident), ident)

    async def delete_data_protection_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.data_protection.delete(ctx.account_id, ctx.region, group_name(params["logGroupIdentifier"]))
        return {}

    @property
    def account_policies(self) -> AccountPolicies:
        return self.core.component("logs.accountpolicies", lambda: AccountPolicies(self.core.storage.metadata, self.core.clock.time))

    # Account policies (saved.py): recorded, not applied
    async def put_account_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"accountPolicy": self.account_policies.put(ctx.account_id, ctx.region, params)}

    async def describe_account_policies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        accounts = params.get("accountIdentifiers")
        if accounts and ctx.account_id not in accounts:
            return {"accountPolicies": []}
        return {"accountPolicies": self.account_policies.describe(ctx.account_id, ctx.region, params["policyType"],
                                                                   params.get("policyName"))}

    async def delete_account_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.account_policies.delete(ctx.account_id, ctx.region, params["policyType"], params["policyName"],
                                     dry_run=bool(params.get("dryRun")))
        return {}

    @property
    def resource_policies(self) -> ResourcePolicies:
        return self.core.component("logs.rpolicies", lambda: ResourcePolicies(self.core.storage.metadata, self.core.clock.time))

    # Export tasks (exports.py)
    async def create_export_task(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"taskId": self.exports.create(ctx.account_id, ctx.region, params)}

    async def describe_export_tasks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.exports.describe(ctx.account_id, task_id=params.get("taskId"), status=params.get("statusCode"),
                                     token=params.get("nextToken"), limit=params.get("limit"))

    async def cancel_export_task(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.exports.cancel(ctx.account_id, params["taskId"])
        return {}

    # Saved queries and resource policies (saved.py)
    async def put_query_definition(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"queryDefinitionId": self.query_definitions.put(ctx.account_id, ctx.region, params)}

    async def describe_query_definitions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.query_definitions.describe(ctx.account_id, ctx.region, prefix=params.get("queryDefinitionNamePrefix"),
                                               language=params.get("queryLanguage"), token=params.get("nextToken"),
                                               limit=params.get("maxResults"))

    async def delete_query_definition(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.query_definitions.delete(ctx.account_id, ctx.region, params["queryDefinitionId"])
        return {"success": True}

    async def put_resource_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        doc = self.resource_policies.put(ctx.account_id, ctx.region, params)
        return {"resourcePolicy": doc, "revisionId": doc["revisionId"]}

    async def describe_resource_policies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.resource_policies.describe(ctx.account_id, ctx.region, scope=params.get("policyScope"),
                                               arn=params.get("resourceArn"), token=params.get("nextToken"), limit=params.get("limit"))

    async def delete_resource_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.resource_policies.delete(ctx.account_id, ctx.region, params)
        return {}

    async def get_log_group_fields(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.logs.insights import group_fields

        return {"logGroupFields": group_fields(self.engine, ctx.account_id, ctx.region, _group(params), params.get("time"),
                                               now_s=self.core.clock.time())}

    async def create_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.create_group(ctx.account_id, ctx.region, params["logGroupName"], tags=params.get("tags"), log_class=params.get("logGroupClass"))
        return {}

    async def delete_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.engine.delete_group(ctx.account_id, ctx.region, params["logGroupName"])
        return {}

    async def describe_log_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        groups, token = self.engine.describe_groups(
            ctx.account_id,
            ctx.region,
            prefix=params.get("logGroupNamePrefix"),
            pattern=params.get("logGroupNamePattern"),
            token=params.get("nextToken"),
            limit=params.get("limit"),
            log_class=params.get("logGroupClass"),
            identifiers=params.get("logGroupIdentifiers"),
        )
        out: dict[str, Any] = {"logGroups": groups}
        if token:
            out["nextToken"] = token
        return out

    async def list_log_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # Nimbus has one account, no linked source accounts, data sources or field indexes: a filter on any
        # of those matches nothing
        others = params.get("accountIdentifiers")
        if params.get("dataSources") or params.get("fieldIndexNames") or (others and ctx.account_id not in others):
            return {"logGroups": []}
        groups, token = self.engine.list_groups(
            ctx.account_id,
            ctx.region,
            pattern=params.get("logGroupNamePattern"),
            log_class=params.get("logGroupClass"),
            tag_filters=params.get("logGroupTags"),
            token=params.get("nextToken"),
            limit=params.get("limit"),
        )
        out: dict[str, Any] = {"logGroups": groups}
        if token:
            out["nextToken"] = token
        return out

    async def create_log_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.create_stream(ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"])
        return {}

    async def delete_log_stream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.engine.delete_stream(ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"])
        return {}

    async def describe_log_streams(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        streams, token = self.engine.describe_streams(
            ctx.account_id,
            ctx.region,
            _group(params),
            prefix=params.get("logStreamNamePrefix"),
            order_by=params.get("orderBy"),
            descending=bool(params.get("descending")),
            token=params.get("nextToken"),
            limit=params.get("limit"),
        )
        out: dict[str, Any] = {"logStreams": streams}
        if token:
            out["nextToken"] = token
        return out

    async def put_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.engine.put_events(ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"], list(params["logEvents"]))

    async def get_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.get_events(
            ctx.account_id,
            ctx.region,
            _group(params),
            params["logStreamName"],
            start_time=params.get("startTime"),
            end_time=params.get("endTime"),
            token=params.get("nextToken"),
            limit=params.get("limit"),
            start_from_head=bool(params.get("startFromHead")),
        )

    async def filter_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.engine.filter_events(
            ctx.account_id,
            ctx.region,
            _group(params),
            stream_names=params.get("logStreamNames"),
            stream_prefix=params.get("logStreamNamePrefix"),
            start_time=params.get("startTime"),
            end_time=params.get("endTime"),
            pattern=params.get("filterPattern"),
            token=params.get("nextToken"),
            limit=params.get("limit"),
            start_from_head=params.get("startFromHead", True) is not False,
        )

    async def put_retention_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.put_retention(ctx.account_id, ctx.region, params["logGroupName"], int(params["retentionInDays"]))
        return {}

    async def delete_retention_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.delete_retention(ctx.account_id, ctx.region, params["logGroupName"])
        return {}

    # tags, old (TagLogGroup) and new (TagResource on the group ARN) styles
    async def tag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.tag_group(ctx.account_id, ctx.region, params["logGroupName"], dict(params["tags"]))
        return {}

    async def untag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.untag_group(ctx.account_id, ctx.region, params["logGroupName"], list(params["tags"]))
        return {}

    async def list_tags_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self.engine.group_tags(ctx.account_id, ctx.region, params["logGroupName"])}

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["resourceArn"]
        self.engine.tag_group(ctx.account_id, ctx.region, group_name(arn), dict(params["tags"]), resource_arn=arn)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.untag_group(ctx.account_id, ctx.region, group_name(params["resourceArn"]), list(params["tagKeys"]))
        return {}

    async def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self.engine.group_tags(ctx.account_id, ctx.region, group_name(params["resourceArn"]))}

    # subscription filters
    async def put_subscription_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await subscriptions_of(self.core).put(
            ctx.account_id,
            ctx.region,
            params["logGroupName"],
            params["filterName"],
            pattern=params["filterPattern"],
            destination_arn=params["destinationArn"],
            role_arn=params.get("roleArn"),
            distribution=params.get("distribution"),
            extra={k: params.get(k) for k in ("fieldSelectionCriteria", "emitSystemFields")},
        )
        return {}

    async def describe_subscription_filters(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        filters, token = subscriptions_of(self.core).describe(
            ctx.account_id, ctx.region, params["logGroupName"],
            prefix=params.get("filterNamePrefix"), token=params.get("nextToken"), limit=params.get("limit"),
        )
        out: dict[str, Any] = {"subscriptionFilters": filters}
        if token:
            out["nextToken"] = token
        return out

    async def delete_subscription_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await subscriptions_of(self.core).delete(ctx.account_id, ctx.region, params["logGroupName"], params["filterName"])
        return {}

    # metric filters
    async def put_metric_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        metric_filters_of(self.core).put(
            ctx.account_id, ctx.region, params["logGroupName"], params["filterName"],
            pattern=params["filterPattern"], transformations=list(params["metricTransformations"]),
            extra={k: params.get(k) for k in ("fieldSelectionCriteria", "emitSystemFieldDimensions")},
        )
        return {}

    async def describe_metric_filters(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        filters, token = metric_filters_of(self.core).describe(
            ctx.account_id, ctx.region, group=params.get("logGroupName"), prefix=params.get("filterNamePrefix"),
            metric_name=params.get("metricName"), namespace=params.get("metricNamespace"),
            token=params.get("nextToken"), limit=params.get("limit"),
        )
        out: dict[str, Any] = {"metricFilters": filters}
        if token:
            out["nextToken"] = token
        return out

    async def delete_metric_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        metric_filters_of(self.core).delete(ctx.account_id, ctx.region, params["logGroupName"], params["filterName"])
        return {}

    async def test_metric_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"matches": MetricFilters.test(params["filterPattern"], list(params["logEventMessages"]))}

    # Logs Insights
    async def start_query(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        query_id = self.queries.start(
            ctx.account_id, ctx.region,
            group=params.get("logGroupName"), groups=params.get("logGroupNames"), identifiers=params.get("logGroupIdentifiers"),
            query_string=params["queryString"], start_s=int(params["startTime"]), end_s=int(params["endTime"]),
            limit=params.get("limit"), language=params.get("queryLanguage"), request_id=ctx.request_id,
        )
        return {"queryId": query_id}

    async def get_query_results(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.queries.results(ctx.account_id, params["queryId"], token=params.get("nextToken"), max_items=params.get("maxItems"))

    async def stop_query(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"success": self.queries.stop(ctx.account_id, params["queryId"])}

    async def describe_queries(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("queryLanguage") not in (None, "CWLI"):
            return {"queries": []}  # Nimbus runs Logs Insights QL queries only
        queries, token = self.queries.describe(
            ctx.account_id, ctx.region, group=params.get("logGroupName"), status=params.get("status"),
            max_results=params.get("maxResults"), token=params.get("nextToken"),
        )
        out: dict[str, Any] = {"queries": queries}
        if token:
            out["nextToken"] = token
        return out

    async def get_log_record(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from nimbus.services.logs.insights import log_record

        return {"logRecord": log_record(self.engine, ctx.account_id, ctx.region, params["logRecordPointer"])}
