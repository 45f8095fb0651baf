"""Client certificates (GenerateClientCertificate & co.): the self-signed certificate API Gateway would
present to an HTTP backend. Recorded only: Nimbus serves no HTTP integrations, so no backend sees it.

GenerateClientCertificate makes a real one (RSA 2048, SHA-256, valid 365 days, as AWS), in pure Python so
Nimbus needs no crypto library: a backend can be configured to trust the PEM. The private key is not kept
(AWS never hands it out either). Records are metadata documents (``apigw.clientcert``, key: id).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from nimbus.services.apigateway import ids
from nimbus.services.apigateway.errors import BadRequestException, NotFoundException

CLIENT_CERT = "apigw.clientcert"  # key: certificate id
CERT_ID_LEN = 6
VALIDITY_S = 365 * 86400  # AWS: a client certificate expires after 365 days
RSA_BITS = 2048
_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]


# --- RSA and DER, just enough for one self-signed certificate -----------------------------------------


def _probable_prime(n: int, rounds: int = 40) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if (candidate - 1) % _E != 0 and _probable_prime(candidate):
            return candidate


def _rsa_key(bits: int = RSA_BITS) -> tuple[int, int]:
    """(modulus, private exponent) for public exponent 65537."""
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        n = p * q
        if p != q and n.bit_length() == bits:
            return n, pow(_E, -1, (p - 1) * (q - 1))


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    nums = [int(x) for x in dotted.split(".")]
    body = bytearray([40 * nums[0] + nums[1]])
    for num in nums[2:]:
        chunk = [num & 0x7F]
        num >>= 7
        while num:
            chunk.append(0x80 | (num & 0x7F))
            num >>= 7
        body.extend(reversed(chunk))
    return _der(0x06, bytes(body))


def _name(common_name: str, organization: str) -> bytes:
    def rdn(oid: str, value: str) -> bytes:
        return _der(0x31, _seq(_oid(oid), _der(0x0C, value.encode())))
    return _seq(rdn("2.5.4.10", organization), rdn("2.5.4.3", common_name))


def _time(epoch: float) -> bytes:
    return _der(0x17, time.strftime("%y%m%d%H%M%SZ", time.gmtime(epoch)).encode())  # UTCTime (valid to 2049)


def self_signed_pem(common_name: str, not_before: float, not_after: float) -> str:
    """A self-signed X.509 v3 certificate (sha256WithRSAEncryption) as PEM; the key is thrown away."""
    n, d = _rsa_key()
    sha256_rsa = _seq(_oid("1.2.840.113549.1.1.11"), b"\x05\x00")
    public_key = _seq(_seq(_oid("1.2.840.113549.1.1.1"), b"\x05\x00"), _der(0x03, b"\x00" + _seq(_int(n), _int(_E))))
    name = _name(common_name, "Nimbus")
    tbs = _seq(_der(0xA0, _int(2)), _int(secrets.randbits(63) | 1), sha256_rsa, name,
               _seq(_time(not_before), _time(not_after)), name, public_key)
    digest_info = _seq(_seq(_oid("2.16.840.1.101.3.4.2.1"), b"\x05\x00"), _der(0x04, hashlib.sha256(tbs).digest()))
    size = (n.bit_length() + 7) // 8
    padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info  # PKCS #1 v1.5
    signature = pow(int.from_bytes(padded, "big"), d, n).to_bytes(size, "big")
    der = _seq(tbs, sha256_rsa, _der(0x03, b"\x00" + signature))
    b64 = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END CERTIFICATE-----\n"


# --- records ---------------------------------------------------------------------------------------------


class ClientCertificates:
    def __init__(self, metadata: Any) -> None:
        self.db = metadata

    def generate(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Slow (an RSA key: around a second): callers run it in a worker thread."""
        cert_id = ids.new_id(CERT_ID_LEN)
        while self.db.get(CLIENT_CERT, cert_id) is not None:
            cert_id = ids.new_id(CERT_ID_LEN)
        now = time.time()
        doc: dict[str, Any] = {"clientCertificateId": cert_id, "createdDate": now, "expirationDate": now + VALIDITY_S,
                               "pemEncodedCertificate": self_signed_pem(f"ApiGateway {cert_id}", now, now + VALIDITY_S),
                               "tags": dict(params.get("tags") or {}), "account": account, "region": region}
        if params.get("description") is not None:
            doc["description"] = params["description"]
        self.db.put(CLIENT_CERT, cert_id, doc)
        return doc

    def get(self, account: str, region: str, cert_id: str) -> dict[str, Any]:
        doc: dict[str, Any] | None = self.db.get(CLIENT_CERT, cert_id)
        if doc is None or doc["account"] != account or doc["region"] != region:
            raise NotFoundException("Invalid Client Certificate identifier specified")
        return doc

    def list(self, account: str, region: str) -> list[dict[str, Any]]:
        return sorted((d for _, d in self.db.list(CLIENT_CERT) if d["account"] == account and d["region"] == region),
                      key=lambda d: d["createdDate"])

    def update(self, account: str, region: str, cert_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.get(account, region, cert_id)
        for op in ops:
            path, value, kind = op.get("path", ""), op.get("value"), op.get("op", "replace")
            if path != "/description":
                raise BadRequestException(f"Invalid patch path {path}: only /description can be updated")
            if kind == "remove" or value is None:
                doc.pop("description", None)
            else:
                doc["description"] = str(value)
        self.db.put(CLIENT_CERT, cert_id, doc)
        return doc

    def delete(self, account: str, region: str, cert_id: str) -> None:
        self.get(account, region, cert_id)
        self.db.delete(CLIENT_CERT, cert_id)

    def set_tags(self, doc: dict[str, Any], tags: dict[str, str]) -> None:
        doc["tags"] = tags
        self.db.put(CLIENT_CERT, doc["clientCertificateId"], doc)


def cert_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("account", "region")}
