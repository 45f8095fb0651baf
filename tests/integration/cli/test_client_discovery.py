"""Client-side commands find the server (--endpoint-url, else AWS_ENDPOINT_URL, else http://127.0.0.1:4566) and
their credentials (environment, AWS profile, else the root credentials a local server stored in ./.nimbus or
NIMBUS_DATA_DIR); ``nimbus credentials`` prints export lines that work. Every command runs as a real process
against a real server, in an environment stripped of the caller's AWS and NIMBUS settings."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess, free_port

ROLE = "arn:aws:iam::000000000000:role/discovery"


@dataclass
class Local:
    server: NimbusProcess
    project: Path  # the directory `nimbus serve` ran in: its data dir is project/.nimbus
    elsewhere: Path  # a directory with no .nimbus
    isolated: dict[str, str]  # an environment with no AWS or NIMBUS settings, no profile files, no IMDS
    access_key: str
    secret_key: str


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    return buf.getvalue()


def _create_function(endpoint: str, name: str, region: str, access_key: str, secret_key: str) -> None:
    lam = boto3.client("lambda", region_name=region, endpoint_url=endpoint, aws_access_key_id=access_key,
                       aws_secret_access_key=secret_key, config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": _zip()})


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """A server with generated root credentials stored in project/.nimbus (as `nimbus serve` run in project)."""
    base = tmp_path_factory.mktemp("discovery")
    project, elsewhere, home = base / "project", base / "elsewhere", base / "home"
    for d in (project, elsewhere, home):
        d.mkdir()
    server = NimbusProcess(project / ".nimbus", env={"NIMBUS_ACCESS_KEY_ID": "", "NIMBUS_SECRET_ACCESS_KEY": ""}).start()
    try:
        stored = json.loads((project / ".nimbus" / "credentials.json").read_text())
        ak, sk = stored["access_key_id"], stored["secret_access_key"]
        assert ak != ACCESS_KEY
        _create_function(server.endpoint, "east1-fn", "us-east-1", ak, sk)
        _create_function(server.endpoint, "east2-fn", "us-east-2", ak, sk)
        isolated = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
        isolated.update(HOME=str(home), AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"), AWS_CONFIG_FILE=str(home / "no-config"),
                        AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
        yield Local(server, project, elsewhere, isolated, ak, sk)
    finally:
        server.stop()


def nimbus(local: Local, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nimbus", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd or local.elsewhere, env={**local.isolated, **env})


def functions(cp: subprocess.CompletedProcess[str]) -> list[str]:
    assert cp.returncode == 0, cp
    return [line.split("\t")[0] for line in cp.stdout.splitlines()]


def dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def _unreachable(cp: subprocess.CompletedProcess[str], endpoint: str) -> None:
    assert cp.returncode == 1, cp
    assert f"cannot reach Nimbus at {endpoint} (" in cp.stderr and "Traceback" not in cp.stderr, cp.stderr


# --- the endpoint -------------------------------------------------------------------------------------------------

def test_endpoint_flag_wins_over_aws_endpoint_url(local: Local) -> None:
    creds = {"AWS_ACCESS_KEY_ID": local.access_key, "AWS_SECRET_ACCESS_KEY": local.secret_key}
    live, dead = local.server.endpoint, dead_endpoint()
    assert functions(nimbus(local, "functions", "list", "--endpoint-url", live, AWS_ENDPOINT_URL=dead, **creds)) == ["east1-fn"]
    # the flag is also accepted after the action
    assert functions(nimbus(local, "functions", "list", "--endpoint-url", live, AWS_ENDPOINT_URL=dead, **creds)) == ["east1-fn"]
    _unreachable(nimbus(local, "functions", "--endpoint-url", dead, "list", AWS_ENDPOINT_URL=live, **creds), dead)
    _unreachable(nimbus(local, "functions", "list", "--endpoint-url", dead, AWS_ENDPOINT_URL=live, **creds), dead)


def test_aws_endpoint_url_without_the_flag(local: Local) -> None:
    creds = {"AWS_ACCESS_KEY_ID": local.access_key, "AWS_SECRET_ACCESS_KEY": local.secret_key}
    assert functions(nimbus(local, "functions", "list", AWS_ENDPOINT_URL=local.server.endpoint, **creds)) == ["east1-fn"]
    dead = dead_endpoint()
    _unreachable(nimbus(local, "functions", "list", AWS_ENDPOINT_URL=dead, **creds), dead)


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: connections in TIME_WAIT do not count
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_default_endpoint_is_loopback_4566(tmp_path: Path) -> None:
    """Only when 4566 is free; the server started there is ours (told by its account id) and stopped at the end."""
    if not _port_is_free(4566):
        pytest.skip("port 4566 is in use")
    server = NimbusProcess(tmp_path / "data", port=4566, extra_args=["--account-id", "456456456456"])
    try:
        try:
            server.start()
        except RuntimeError:
            pytest.skip("port 4566 was taken meanwhile")
        assert server.get_json("/_nimbus/health")["account_id"] == "456456456456"
        _create_function(server.endpoint, "default-port-fn", "us-east-1", ACCESS_KEY, SECRET_KEY)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_MAX_ATTEMPTS="1",
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
        cp = subprocess.run([sys.executable, "-m", "nimbus", "functions", "list"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env=env)
        assert functions(cp) == ["default-port-fn"]
    finally:
        server.stop()
    assert _port_is_free(4566) or server.proc is None


# --- credentials --------------------------------------------------------------------------------------------------------

def test_credentials_from_the_environment_win_over_the_stored_root(local: Local) -> None:
    live = local.server.endpoint
    cp = nimbus(local, "functions", "list", "--endpoint-url", live, "--region", "us-east-2", cwd=local.project,
                AWS_ACCESS_KEY_ID=local.access_key, AWS_SECRET_ACCESS_KEY=local.secret_key)
    assert functions(cp) == ["east2-fn"]
    # ./.nimbus holds working credentials, but the environment's (wrong) ones are used
    cp = nimbus(local, "functions", "list", "--endpoint-url", live, cwd=local.project,
                AWS_ACCESS_KEY_ID=local.access_key, AWS_SECRET_ACCESS_KEY="not-the-secret")
    assert cp.returncode == 1 and "InvalidSignatureException" in cp.stderr, cp


def test_credentials_and_region_from_an_aws_profile(local: Local, tmp_path: Path) -> None:
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    credentials.write_text(f"[default]\naws_access_key_id = {local.access_key}\naws_secret_access_key = {local.secret_key}\n\n"
                           f"[nimbus-dev]\naws_access_key_id = {local.access_key}\naws_secret_access_key = {local.secret_key}\n\n"
                           f"[stale]\naws_access_key_id = NKIANOSUCHKEY0000000\naws_secret_access_key = x\n")
    config.write_text("[default]\nregion = us-east-1\n\n[profile nimbus-dev]\nregion = us-east-2\n\n[profile stale]\nregion = us-east-1\n")
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(config), "AWS_ENDPOINT_URL": local.server.endpoint}
    assert functions(nimbus(local, "functions", "list", **files)) == ["east1-fn"]  # the default profile
    assert functions(nimbus(local, "functions", "list", AWS_PROFILE="nimbus-dev", **files)) == ["east2-fn"]  # its region too
    assert functions(nimbus(local, "functions", "list", "--region", "us-east-1", AWS_PROFILE="nimbus-dev", **files)) == ["east1-fn"]
    # a profile wins over the stored root credentials of ./.nimbus
    cp = nimbus(local, "functions", "list", cwd=local.project, AWS_PROFILE="stale", **files)
    assert cp.returncode == 1 and "UnrecognizedClientException" in cp.stderr, cp


def test_stored_root_credentials_with_nothing_else_set(local: Local) -> None:
    live = local.server.endpoint
    # ./.nimbus of the working directory
    assert functions(nimbus(local, "functions", "list", "--endpoint-url", live, cwd=local.project)) == ["east1-fn"]
    # NIMBUS_DATA_DIR, from anywhere
    assert functions(nimbus(local, "functions", "list", "--endpoint-url", live,
                            NIMBUS_DATA_DIR=str(local.project / ".nimbus"))) == ["east1-fn"]
    # none at all: a clear message
    cp = nimbus(local, "functions", "list", "--endpoint-url", live)
    assert cp.returncode == 1 and "no credentials" in cp.stderr and "Traceback" not in cp.stderr, cp


def test_nimbus_credentials_prints_working_export_lines(local: Local) -> None:
    live = local.server.endpoint
    cp = nimbus(local, "credentials", "--endpoint-url", live, cwd=local.project)
    assert cp.returncode == 0, cp
    assert cp.stdout.splitlines() == [
        f"export AWS_ENDPOINT_URL={live}",
        f"export AWS_ACCESS_KEY_ID={local.access_key}",
        f"export AWS_SECRET_ACCESS_KEY={local.secret_key}",
        "export AWS_DEFAULT_REGION=us-east-1",
    ]
    for how in (["--data-dir", str(local.project / ".nimbus")], []):
        env = {} if how else {"NIMBUS_DATA_DIR": str(local.project / ".nimbus")}
        assert nimbus(local, "credentials", "--endpoint-url", live, *how, **env).stdout == cp.stdout
    # evaluated by a shell in a directory with no .nimbus, the lines alone are enough for a client command
    script = f'eval "$("{sys.executable}" -m nimbus credentials --endpoint-url {live} --data-dir {local.project / ".nimbus"} --region us-east-2)" ' \
             f'&& "{sys.executable}" -m nimbus functions list'
    sh = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=local.elsewhere, env=local.isolated)
    assert functions(sh) == ["east2-fn"]
    # AWS_ENDPOINT_URL is taken over when set
    assert f"export AWS_ENDPOINT_URL={live}\n" in nimbus(local, "credentials", cwd=local.project, AWS_ENDPOINT_URL=live).stdout
    cp = nimbus(local, "credentials")
    assert cp.returncode == 1 and "no credentials in .nimbus" in cp.stderr and cp.stdout == "", cp


def test_nimbus_user_gives_a_person_working_keys_of_their_own(local: Local) -> None:
    """`nimbus user NAME` (signed with the stored root keys) creates the user and a key; its lines, evaluated by a
    shell with nothing else set, are enough for any client; a third key is the quota error in one line."""
    live = local.server.endpoint
    cp = nimbus(local, "user", "alice", "--endpoint-url", live, "--region", "us-east-2", cwd=local.project)
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "export AWS_ENDPOINT_URL", "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_DEFAULT_REGION"]
    assert "created user arn:aws:iam::000000000000:user/alice" in cp.stderr
    key = lines[1].split("=", 1)[1]
    assert key.startswith("AKIA") and key != local.access_key
    script = (f'eval "$("{sys.executable}" -m nimbus user alice --endpoint-url {live})" && '
              f'aws() {{ "{Path(sys.executable).parent / "aws"}" "$@"; }}; aws sts get-caller-identity --query Arn --output text')
    # the second key comes from an existing user; the shell that evaluates it has only those four variables (the
    # nimbus command itself signs with the root keys stored in ./.nimbus)
    sh = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=local.project, env=local.isolated)
    assert sh.returncode == 0 and sh.stdout.strip() == "arn:aws:iam::000000000000:user/alice", sh
    assert "existing user" in sh.stderr
    # --policy attaches managed policies (AWS-managed by name) on the way
    cp = nimbus(local, "user", "bob", "--policy", "AmazonS3ReadOnlyAccess", "--endpoint-url", live, cwd=local.project)
    assert cp.returncode == 0 and "attached arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in cp.stderr, cp
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=live, aws_access_key_id=local.access_key,
                       aws_secret_access_key=local.secret_key)
    assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="bob")["AttachedPolicies"]] == ["AmazonS3ReadOnlyAccess"]
    third = nimbus(local, "user", "alice", "--endpoint-url", live, cwd=local.project)
    assert third.returncode == 1 and "LimitExceeded" in third.stderr and "AccessKeysPerUser" in third.stderr, third
    assert len(third.stderr.strip().splitlines()) == 1 and third.stdout == ""
