"""Code packages nothing names any more leave the disk: the zip when the call that unnamed it commits
(UpdateFunctionCode, DeleteFunction of a function or a version, DeleteLayerVersion), the extracted
directory a few seconds after the next start; packages a version, another function or a layer user still names stay.
A real server, its data directory inspected on disk."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nimbus.services.lambda_.code import blob_key
from nimbus.storage.files import FileBlobStore
from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import ROLE, make_zip


def package(tag: str) -> bytes:
    """The same bytes for the same tag (make_zip's entries carry a fixed date)."""
    return make_zip({"app.py": f"def handler(event, context):\n    return {tag!r}\n"})


def sha_of(zip_bytes: bytes) -> str:
    return hashlib.sha256(zip_bytes).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    proc = NimbusProcess(tmp_path_factory.mktemp("codegc") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def on_disk(server: NimbusProcess, zip_bytes: bytes) -> tuple[bool, bool]:
    """(is the zip in the blob store, is its extracted directory there)."""
    sha = sha_of(zip_bytes)
    data = Path(server.data_dir)
    return FileBlobStore(data / "blobs").exists(blob_key(sha)), (data / "lambda" / "code" / sha).is_dir()


def invoke(lam: Any, name: str) -> Any:
    return json.loads(lam.invoke(FunctionName=name)["Payload"].read())


def create(lam: Any, name: str, code: bytes, **kw: Any) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": code}, **kw)


def test_unnamed_packages_leave_the_disk(server: NimbusProcess) -> None:
    lam = server.client("lambda")
    v1, v2, v3, shared = package("v1"), package("v2"), package("v3"), package("shared")
    create(lam, "gc-a", v1)
    assert on_disk(server, v1) == (True, True)
    assert invoke(lam, "gc-a") == "v1"
    lam.update_function_code(FunctionName="gc-a", ZipFile=v2)
    assert on_disk(server, v1)[0] is False  # the replaced zip went at once (its directory waits for a restart)
    lam.publish_version(FunctionName="gc-a")  # version 1 keeps v2
    lam.update_function_code(FunctionName="gc-a", ZipFile=v3)
    assert on_disk(server, v2) == (True, True)
    assert json.loads(lam.invoke(FunctionName="gc-a", Qualifier="1")["Payload"].read()) == "v2"
    lam.delete_function(FunctionName="gc-a", Qualifier="1")
    assert on_disk(server, v2)[0] is False

    # a package two functions share stays while one of them names it
    create(lam, "gc-b", shared)
    create(lam, "gc-c", shared)
    lam.delete_function(FunctionName="gc-b")
    assert on_disk(server, shared)[0] is True
    assert invoke(lam, "gc-c") == "shared"

    # a layer version's package stays while a function was given it, even after the layer version goes
    layer_zip = package("layer")
    layer = lam.publish_layer_version(LayerName="gc-layer", Content={"ZipFile": layer_zip}, CompatibleRuntimes=["python3.12"])
    create(lam, "gc-d", package("uses-layer"), Layers=[layer["LayerVersionArn"]])
    lam.delete_layer_version(LayerName="gc-layer", VersionNumber=layer["Version"])
    assert on_disk(server, layer_zip)[0] is True
    lam.delete_function(FunctionName="gc-d")
    assert on_disk(server, layer_zip)[0] is False
    assert on_disk(server, package("uses-layer"))[0] is False

    # at the next start the extracted directories of those packages go too; the ones in use stay and run
    server.restart()
    lam = server.client("lambda")
    assert invoke(lam, "gc-a") == "v3" and invoke(lam, "gc-c") == "shared"
    deadline = time.monotonic() + 30  # the sweep runs a few seconds after start (lambda_/invoke.py SWEEP_DELAY_S)
    while any(on_disk(server, gone) != (False, False) for gone in (v1, v2, layer_zip, package("uses-layer"))):
        assert time.monotonic() < deadline, "the start-up sweep did not remove the unused packages"
        time.sleep(0.2)
    for kept in (v3, shared):
        assert on_disk(server, kept) == (True, True)
    code = lam.get_function(FunctionName="gc-c")["Code"]
    assert code["RepositoryType"] == "S3" and code["Location"]


def test_a_package_deployed_again_is_whole(server: NimbusProcess) -> None:
    """Deleting the only function of a package, then deploying the same bytes, stores them again."""
    lam = server.client("lambda")
    again = package("again")
    create(lam, "gc-e", again)
    lam.delete_function(FunctionName="gc-e")
    assert on_disk(server, again)[0] is False
    out = create(lam, "gc-f", again)
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(again).digest()).decode()
    assert on_disk(server, again) == (True, True)
    assert invoke(lam, "gc-f") == "again"
