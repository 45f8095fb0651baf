"""Load and cache the botocore service models Nimbus serves, plus documented corrections.

Models load lazily, once per service name, from the installed botocore's data. The tables below hold
what the models do not say but the wire needs (XML root element names of S3 outputs, for example).
"""

from __future__ import annotations

import functools
import threading

import botocore.loaders
import botocore.model

SERVED_SERVICES = ("lambda", "s3", "firehose", "kinesis", "logs", "apigateway", "apigatewayv2", "iam", "sts")

_loader_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def _get_loader() -> botocore.loaders.Loader:
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        return _loader


@functools.lru_cache(maxsize=None)
def load_service_model(service_name: str) -> botocore.model.ServiceModel:
    """The botocore ServiceModel for ``service_name`` (e.g. "lambda"), loaded once."""
    data = _get_loader().load_service_model(service_name, "service-2")
    for shape, pattern in PATTERN_PATCHES.get(service_name, {}).items():
        data["shapes"][shape]["pattern"] = pattern
    return botocore.model.ServiceModel(data, service_name=service_name)


# Input patterns Nimbus relaxes on purpose (documented in the service's docs page). Firehose: an
# HttpEndpoint URL may be http:// as well, for local endpoints (AWS takes https:// only).
PATTERN_PATCHES: dict[str, dict[str, str]] = {
    "firehose": {"HttpEndpointUrl": "https?://.*"},
}


# Root element names of rest-xml output documents. Real S3 names the document after the result, not
# after the botocore output shape (which the model leaves unnamed); botocore ignores the root name, other
# SDKs and tools do not. Shapes not listed here fall back to the shape's own locationName or name.
XML_OUTPUT_ROOTS: dict[str, dict[str, str]] = {
    "s3": {
        "ListBuckets": "ListAllMyBucketsResult",
        "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
        "ListObjects": "ListBucketResult",
        "ListObjectsV2": "ListBucketResult",
        "ListObjectVersions": "ListVersionsResult",
        "ListMultipartUploads": "ListMultipartUploadsResult",
        "ListParts": "ListPartsResult",
        "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult",
        "DeleteObjects": "DeleteResult",
        "GetBucketAcl": "AccessControlPolicy",
        "GetObjectAcl": "AccessControlPolicy",
        "GetBucketCors": "CORSConfiguration",
        "GetBucketLifecycle": "LifecycleConfiguration",
        "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
        "GetBucketLocation": "LocationConstraint",
        "GetBucketLogging": "BucketLoggingStatus",
        "GetBucketNotification": "NotificationConfiguration",
        "GetBucketNotificationConfiguration": "NotificationConfiguration",
        "GetBucketTagging": "Tagging",
        "GetObjectTagging": "Tagging",
        "GetBucketVersioning": "VersioningConfiguration",
        "GetBucketWebsite": "WebsiteConfiguration",
        "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
        "GetBucketRequestPayment": "RequestPaymentConfiguration",
        "GetObjectAttributes": "GetObjectAttributesResponse",
        "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
        "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
        "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
        "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
        "CreateSession": "CreateSessionResult",
        "RestoreObject": "RestoreObjectOutput",
    },
}

# Outputs whose whole document is one text element (S3 GetBucketLocation answers
# ``<LocationConstraint>eu-west-1</LocationConstraint>``; botocore has a custom handler for it).
XML_TEXT_ROOT_MEMBERS: dict[str, dict[str, str]] = {"s3": {"GetBucketLocation": "LocationConstraint"}}

# Flattened list members of an output that the service writes as one sequence, their elements interleaved
# in the order of the entries' SEQUENCE_KEY (S3's ListObjectVersions lists a key's versions and delete
# markers together, newest first, key after key); the model states two separate lists.
XML_INTERLEAVED_MEMBERS: dict[str, dict[str, tuple[str, ...]]] = {"s3": {"ListObjectVersions": ("Versions", "DeleteMarkers")}}
SEQUENCE_KEY = "_sequence"  # an entry's position in its interleaved sequence (not a model member: never written)

# Success statuses the models do not state: S3 answers a ranged GetObject (the output carries
# ContentRange) with 206 Partial Content. operation -> (member whose presence sets it, status).
# RestoreObject answers 202 Accepted when it starts a restore (200 when it extends a completed one): its
# handler sets the non-member ACCEPTED_KEY.
ACCEPTED_KEY = "_accepted"
PRESENCE_STATUS: dict[str, dict[str, tuple[str, int]]] = {
    "s3": {"GetObject": ("ContentRange", 206), "HeadObject": ("ContentRange", 206), "RestoreObject": (ACCEPTED_KEY, 202)}
}

# Default XML namespace for rest-xml documents when the shape does not carry one.
XML_NAMESPACES: dict[str, str] = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}

# Operations whose requests cannot be told apart on the wire: the key is routed as the value. S3's
# deprecated lifecycle/notification calls share their successors' URIs and bodies' roots; directory
# buckets (S3 Express) are listed with the same ``GET /`` as general-purpose ones.
INDISTINGUISHABLE_ROUTES: dict[str, dict[str, str]] = {
    "s3": {
        "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
        "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
        "GetBucketNotification": "GetBucketNotificationConfiguration",
        "PutBucketNotification": "PutBucketNotificationConfiguration",
        "ListDirectoryBuckets": "ListBuckets",
    },
}
