"""The served services: name -> "module:factory(core) -> Api", read by ``nimbus.server``.

Each line is added by the service's own package; keep it sorted. ``EAGER`` services are started at
boot because they resume background work (queues, pollers, delivery buffers, crash clean-up).
"""

SERVICES: dict[str, str] = dict(
    {
        "apigateway": "nimbus.services.apigateway.api:build",
        "apigatewayv2": "nimbus.services.apigateway.apiv2:build",
        "cloudwatch": "nimbus.services.cloudwatch.api:create_api",
        "firehose": "nimbus.services.firehose.api:create_api",
        "iam": "nimbus.services.iam.api:create_api",
        "kinesis": "nimbus.services.kinesis.api:factory",
        "lambda": "nimbus.services.lambda_.api:create_api",
        "logs": "nimbus.services.logs.api:create_api",
        "s3": "nimbus.services.s3.api:create_api",
        "sts": "nimbus.services.sts.api:create_api",
    }
)
EAGER: list[str] = ["kinesis", "lambda", "firehose", "s3", "logs", "cloudwatch"]
