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
    }
)
server.EAGER.extend(["kinesis", "firehose"])
