"""S3's error codes (aws-contracts.md E.5), raised by the engine modules with AWS's wording.

S3 errors carry extra members in the error XML (``BucketName``, ``Key``, ``UploadId``...): pass them as
keyword fields and the rest-xml error serializer writes them after ``<Message>``.
"""

from __future__ import annotations

from nimbus.errors import ServiceError


class S3Error(ServiceError):
    """Base of S3's errors."""


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist", BucketName=bucket)


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", Key=key)


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
            "aborted or completed.",
            UploadId=upload_id,
        )


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "Your previous request to create the named bucket succeeded and you already own it.", BucketName=bucket
        )


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__("The bucket you tried to delete is not empty", BucketName=bucket)


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"
    status = 400

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket is not valid.", BucketName=bucket)


class IllegalLocationConstraintException(S3Error):
    code = "IllegalLocationConstraintException"
    status = 400


class InvalidLocationConstraint(S3Error):
    code = "InvalidLocationConstraint"
    status = 400


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416

    def __init__(self, requested: str, size: int) -> None:
        super().__init__(
            "The requested range is not satisfiable", RangeRequested=requested, ActualObjectSize=size
        )


class InvalidPartNumber(S3Error):
    """GetObject / HeadObject ``partNumber`` past the object's last part (a plain object has one)."""

    code = "InvalidPartNumber"
    status = 416

    def __init__(self, requested: int, actual: int) -> None:
        super().__init__("The requested partnumber is not satisfiable", PartNumberRequested=requested, ActualPartCount=actual)


class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412

    def __init__(self, condition: str) -> None:
        super().__init__("At least one of the pre-conditions you specified did not hold", Condition=condition)


class NotModified(S3Error):
    """304: If-None-Match / If-Modified-Since held. No body goes on the wire (HTTP forbids one)."""

    code = "NotModified"
    status = 304

    def __init__(self, etag: str | None = None, last_modified: str | None = None) -> None:
        headers = {}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        super().__init__("Not Modified", headers=headers)


class InvalidPart(S3Error):
    code = "InvalidPart"
    status = 400

    def __init__(self, part_number: int, upload_id: str, etag: str | None = None) -> None:
        super().__init__(
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
            "specified entity tag may not match the part's entity tag.",
            UploadId=upload_id,
            PartNumber=part_number,
            ETag=etag,
        )


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"
    status = 400

    def __init__(self, upload_id: str) -> None:
        super().__init__("The list of parts was not in ascending order. Parts must be ordered by part number.", UploadId=upload_id)


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"
    status = 400

    def __init__(self, size: int, minimum: int, part_number: int) -> None:
        super().__init__(
            "Your proposed upload is smaller than the minimum allowed size",
            ProposedSize=size,
            MinSizeAllowed=minimum,
            PartNumber=part_number,
        )


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"
    status = 400

    def __init__(self, size: int, maximum: int) -> None:
        super().__init__("Your proposed upload exceeds the maximum allowed size", ProposedSize=size, MaxSizeAllowed=maximum)


class BadDigest(S3Error):
    code = "BadDigest"
    status = 400


class InvalidDigest(S3Error):
    code = "InvalidDigest"
    status = 400


class InvalidRequest(S3Error):
    code = "InvalidRequest"
    status = 400


class InvalidArgument(S3Error):
    code = "InvalidArgument"
    status = 400


class BadRequest(S3Error):
    """What S3 answers for more than 10 tags on an object (not InvalidTag)."""

    code = "BadRequest"
    status = 400


class InvalidTag(S3Error):
    code = "InvalidTag"
    status = 400


class MalformedXML(S3Error):
    code = "MalformedXML"
    status = 400

    def __init__(self, message: str = "The XML you provided was not well-formed or did not validate against our published schema") -> None:
        super().__init__(message)


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"
    status = 400

    def __init__(self, size: int) -> None:
        super().__init__("Your key is too long", Size=size, MaxSizeAllowed=1024)


class NoSuchTagSet(S3Error):
    code = "NoSuchTagSet"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The TagSet does not exist", BucketName=bucket)


class IncompleteBody(S3Error):
    code = "IncompleteBody"
    status = 400


class MissingContentLength(S3Error):
    code = "MissingContentLength"
    status = 411

    def __init__(self) -> None:
        super().__init__("You must provide the Content-Length HTTP header.")


class HeaderNotImplemented(S3Error):
    code = "NotImplemented"
    status = 501

    def __init__(self, header: str) -> None:
        super().__init__("A header you provided implies functionality that is not implemented", Header=header)


class NoSuchVersion(S3Error):
    """A version id of the right form that names no version of the key."""

    code = "NoSuchVersion"
    status = 404

    def __init__(self, key: str, version_id: str) -> None:
        super().__init__("The specified version does not exist.", Key=key, VersionId=version_id)


class MethodNotAllowed(S3Error):
    """GET / HEAD of a delete marker by its version id (405, as S3 answers it)."""

    code = "MethodNotAllowed"
    status = 405

    def __init__(self, method: str, *, version_id: str | None, last_modified: str) -> None:
        headers = {"x-amz-delete-marker": "true", "Last-Modified": last_modified, "Allow": "DELETE"}
        if version_id is not None:
            headers["x-amz-version-id"] = version_id
        super().__init__("The specified method is not allowed against this resource.", Method=method,
                         ResourceType="DeleteMarker", headers=headers)


class DeletedKey(S3Error):
    """NoSuchKey for a key whose current version is a delete marker: S3 says so in its headers."""

    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str, version_id: str) -> None:
        super().__init__("The specified key does not exist.", Key=key,
                         headers={"x-amz-delete-marker": "true", "x-amz-version-id": version_id})
