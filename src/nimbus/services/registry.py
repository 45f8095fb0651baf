"""The served services: name -> "module:factory". Importing this fills ``nimbus.server.SERVICES``.

Each line is added by the service's own package; keep it sorted.
"""

from nimbus import server

server.SERVICES.update(
    {
        "apigateway": "nimbus.services.apigateway.api:build",
        "apigatewayv2": "nimbus.services.apigateway.apiv2:build",
        "firehose": "nimbus.services.firehose.api:create_api",
        "kinesis": "nimbus.services.kinesis.api:factory",
        "lambda": "nimbus.services.lambda_.api:create_api",
        "logs": "nimbus.services.logs.api:create_api",
        "s3": "nimbus.services.s3.api:create_api",
    }
)
server.EAGER.extend(["kinesis", "lambda", "firehose", "s3"])
