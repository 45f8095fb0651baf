"""SSE-C: server-side encryption with customer-provided keys (docs/services/s3.md, "SSE-C").

S3 encrypts such an object with the key the request carries and keeps only a salted HMAC of it; every
later read must carry the same key. Nimbus does not encrypt at rest (like its other SSE modes), but keeps
the rules a client relies on: a write's key is checked (AES256, 256 bits, its MD5), the key's MD5 is kept
with the version (``S3Object.sse_c``), and reads (GetObject, HeadObject, GetObjectAttributes, copy sources)
must present the same key, with S3's errors when they do not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from nimbus.services.s3.errors import InvalidArgument, InvalidRequest, S3Error

ALGORITHM = "AES256"


class InvalidEncryptionAlgorithmError(S3Error):
    code = "InvalidEncryptionAlgorithmError"
    status = 400


class KeyDoesNotMatch(S3Error):
    code = "AccessDenied"
    status = 403

    def __init__(self) -> None:
        super().__init__("Access Denied")


def key_md5(params: dict[str, Any], prefix: str = "") -> str | None:
    """The MD5 (base64) of the customer key a request carries in ``{prefix}SSECustomer*`` (``CopySource``
    for a copy's source), checked as S3 checks it; None when it carries none."""
    algorithm = params.get(prefix + "SSECustomerAlgorithm")
    key = params.get(prefix + "SSECustomerKey")
    md5 = params.get(prefix + "SSECustomerKeyMD5")
    if algorithm is None and key is None and md5 is None:
        return None
    if algorithm is None:
        raise InvalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
                              "encryption algorithm.", ArgumentName="x-amz-server-side-encryption-customer-algorithm")
    if algorithm != ALGORITHM:
        raise InvalidEncryptionAlgorithmError("The Encryption request you specified is not valid. Supported value: AES256.",
                                              ArgumentName="x-amz-server-side-encryption-customer-algorithm",
                                              ArgumentValue=str(algorithm))
    if not key:
        raise InvalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide an "
                              "appropriate secret key.", ArgumentName="x-amz-server-side-encryption-customer-key")
    try:
        raw = base64.b64decode(str(key), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidArgument("The secret key was invalid for the specified algorithm.",
                              ArgumentName="x-amz-server-side-encryption-customer-key")
    computed = base64.b64encode(hashlib.md5(raw).digest()).decode()
    if not md5:
        raise InvalidArgument("Requests specifying Server Side Encryption with Customer provided keys must provide the "
                              "client calculated MD5 of the secret key.", ArgumentName="x-amz-server-side-encryption-customer-key-MD5")
    if md5 != computed:
        raise InvalidArgument("The calculated MD5 hash of the key did not match the hash that was provided.",
                              ArgumentName="x-amz-server-side-encryption-customer-key-MD5")
    return computed


def for_write(params: dict[str, Any]) -> str | None:
    """A write's customer key (MD5), refused beside x-amz-server-side-encryption."""
    md5 = key_md5(params)
    if md5 is not None and params.get("ServerSideEncryption"):
        raise InvalidArgument("Server Side Encryption with Customer provided key is incompatible with the encryption method "
                              "specified", ArgumentName="x-amz-server-side-encryption")
    return md5


def check_read(stored: str | None, given: str | None) -> None:
    """A read of a version written with ``stored`` (None: no SSE-C) presenting ``given``."""
    if stored is None:
        if given is not None:
            raise InvalidRequest("The encryption parameters are not applicable to this object.")
        return
    if given is None:
        raise InvalidRequest("The object was stored using a form of Server Side Encryption. The correct parameters must be "
                             "provided to retrieve the object.")
    if given != stored:
        raise KeyDoesNotMatch()


def check_part(upload: str | None, given: str | None) -> None:
    """UploadPart of an upload created with ``upload``'s key (or none)."""
    if upload is None:
        if given is not None:
            raise InvalidRequest("The multipart upload initiate requested no encryption. Subsequent part requests must not "
                                 "include encryption parameters.")
        return
    if given is None:
        raise InvalidRequest("The multipart upload initiate requested encryption. Subsequent part requests must include "
                             "the appropriate encryption parameters.")
    if given != upload:
        raise InvalidRequest("The provided encryption parameters did not match the ones used originally.")


def headers(md5: str | None) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": ALGORITHM, "SSECustomerKeyMD5": md5} if md5 is not None else {}
