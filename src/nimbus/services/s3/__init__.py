"""S3: buckets, objects, multipart uploads, tagging and notifications (rest-xml, path and virtual-hosted).

``api.py`` maps wire shapes to ``engine.S3Engine`` (buckets.py, objects.py, multipart.py, notifications.py).
Engine modules import storage and nimbus.clock only; other services write objects through the core
component "s3.engine" (see engine.py).
"""
