"""API Gateway control plane: REST APIs (``apigateway``), HTTP APIs (``apigatewayv2``) and Lambda
function URL configs. ``api.py`` / ``apiv2.py`` are the thin operation handlers; ``restapis.py``,
``httpapis.py`` and ``urls.py`` hold the state in the metadata store. Serving the APIs lives in
``nimbus.gateway``. May import: storage, other services' engine modules; never protocol or edge.
"""
