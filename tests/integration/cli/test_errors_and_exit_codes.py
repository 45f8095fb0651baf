"""What a new user meets when something is wrong: every `nimbus` command answers a mistake with one line on stderr
(`nimbus <command>: ...`, never a traceback) and an exit status (1: the request failed, 2: a usage mistake found
before any request, 130: Ctrl-C, 141: stdout's reader went away); `nimbus serve` stops cleanly on Ctrl-C and
refuses a port in use before it prints or stores anything; `nimbus credentials` prints lines a shell can eval.
Every command runs as a real process against a real server."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess, free_port

ROLE = "arn:aws:iam::000000000000:role/ux"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    proc = NimbusProcess(tmp_path_factory.mktemp("ux") / "data").start()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    lam = proc.client("lambda")
    for i in range(3):
        lam.create_function(FunctionName=f"ux-fn-{i}", Runtime="python3.12", Role=ROLE,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": buf.getvalue()})
    try:
        yield proc
    finally:
        proc.stop()


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    env.update(HOME=str(tmp), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"), AWS_CONFIG_FILE=str(tmp / "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
    env.update(extra)
    return env


def nimbus(server: NimbusProcess, tmp: Path, *args: str, creds: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"AWS_ENDPOINT_URL": server.endpoint}
    if creds:
        base.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    return subprocess.run([sys.executable, "-m", "nimbus", *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp, env=_env(tmp, **{**base, **env}))


def one_line(cp: subprocess.CompletedProcess[str], rc: int, prefix: str) -> str:
    """The failure is exactly one stderr line starting with prefix, nothing on stdout, exit status rc."""
    assert cp.returncode == rc, cp
    assert "Traceback" not in cp.stderr and cp.stdout == "", cp
    lines = cp.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), cp.stderr
    return lines[0]


# --- nimbus serve ------------------------------------------------------------------------------------------------------

def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text(errors="replace") if path.exists() else ""
        if text in out:
            return out
        assert proc.poll() is None, out
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not seen in:\n{out}")


def _healthy(endpoint: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None
        try:
            with urllib.request.urlopen(endpoint + "/_nimbus/health", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("not healthy")


def test_serve_stops_on_ctrl_c_without_a_traceback_and_its_restart_banner_gives_a_working_credentials_command(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "data"
    env = _env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `nimbus` as the venv installs it
    cmd = [sys.executable, "-m", "nimbus", "serve", "--port", str(port), "--data-dir", str(data)]
    for run in (1, 2):
        out_path, err_path = tmp_path / f"out{run}", tmp_path / f"err{run}"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tmp_path)
            try:
                _healthy(f"http://127.0.0.1:{port}", proc)
                banner = _wait_for(out_path, "try:", proc)
                if run == 2:
                    # the secret is not printed again; the banner names the exact command that prints it
                    hint = re.search(r"or all four: (eval .*)$", banner, re.M)
                    assert hint and f"--endpoint-url http://127.0.0.1:{port}" in hint.group(1) and str(data) in hint.group(1), banner
                    sh = subprocess.run(["bash", "-c", f"{hint.group(1)} && nimbus functions list && echo ok"], capture_output=True,
                                        text=True, timeout=120, cwd=tmp_path, env=env)
                    assert sh.returncode == 0 and sh.stdout.strip() == "ok", sh
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        err_text = err_path.read_text(errors="replace")
        assert rc == 130 and "Traceback" not in err_text and "KeyboardInterrupt" not in err_text, err_text
        assert "Application shutdown complete" in err_text  # it still shut down in order


def test_serve_refuses_a_port_in_use_in_one_line_before_touching_the_data_dir(server: NimbusProcess, tmp_path: Path) -> None:
    cp = subprocess.run([sys.executable, "-m", "nimbus", "serve", "--port", str(server.port), "--data-dir", str(tmp_path / "new")],
                        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_env(tmp_path))
    line = one_line(cp, 1, f"nimbus: cannot listen on 127.0.0.1:{server.port}: ")
    assert "pick another --port" in line
    assert not (tmp_path / "new").exists()  # no credentials generated, nothing printed for a server that never ran


# --- client commands: one line, an exit status --------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("functions", "list"),
    ("trigger", "http", "ux-fn-0"),
    ("logs", "ux-fn-0"),
    ("firehose", "describe", "s"),
])
def test_no_credentials(server: NimbusProcess, tmp_path: Path, args: tuple[str, ...]) -> None:
    line = one_line(nimbus(server, tmp_path, *args, creds=False), 1, f"nimbus {args[0]}: no credentials: ")
    assert "nimbus credentials" in line


def test_wrong_endpoints(server: NimbusProcess, tmp_path: Path) -> None:
    host_port = server.endpoint.removeprefix("http://")
    # no scheme: the commonest slip
    line = one_line(nimbus(server, tmp_path, "functions", "list", AWS_ENDPOINT_URL=host_port), 2, "nimbus functions: AWS_ENDPOINT_URL ")
    assert "is not a URL" in line
    one_line(nimbus(server, tmp_path, "trigger", "http", "ux-fn-0", "--endpoint-url", "http://127.0.0.1:port"), 2,
             "nimbus trigger: --endpoint-url 'http://127.0.0.1:port' is not a URL")
    # https against the plain-HTTP server
    line = one_line(nimbus(server, tmp_path, "logs", "ux-fn-0", AWS_ENDPOINT_URL=f"https://{host_port}"), 1, "nimbus logs: TLS handshake")
    assert "use an http:// endpoint" in line
    # nothing listening: the endpoint as given, without the request path
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (("functions", "list"), ("firehose", "flush", "s"), ("trigger", "http", "ux-fn-0")):
        line = one_line(nimbus(server, tmp_path, *args, AWS_ENDPOINT_URL=dead), 1, f"nimbus {args[0]}: cannot reach Nimbus at {dead} (")


def test_aws_errors_name_their_code_the_same_way_in_every_command(server: NimbusProcess, tmp_path: Path) -> None:
    one_line(nimbus(server, tmp_path, "functions", "list", AWS_SECRET_ACCESS_KEY="wrong"), 1, "nimbus functions: InvalidSignatureException: ")
    one_line(nimbus(server, tmp_path, "firehose", "describe", "s", AWS_ACCESS_KEY_ID="NKIANOSUCHKEY0000000"), 1,
             "nimbus firehose: UnrecognizedClientException: ")
    one_line(nimbus(server, tmp_path, "trigger", "http", "nosuch"), 1, "nimbus trigger: ResourceNotFoundException: Function not found")
    one_line(nimbus(server, tmp_path, "functions", "invoke", "nosuch"), 1, "nimbus functions: ResourceNotFoundException: Function not found")
    for sub in ("describe", "flush"):
        one_line(nimbus(server, tmp_path, "firehose", sub, "nosuch"), 1, "nimbus firehose: ResourceNotFoundException: Firehose nosuch ")
    # a function that never ran has no log group yet: said in words, and --follow waits for it
    line = one_line(nimbus(server, tmp_path, "logs", "ux-fn-1", "--region", "us-east-1"), 1, "nimbus logs: no log group /aws/lambda/ux-fn-1 in us-east-1")
    assert "has not run yet" in line


def test_usage_mistakes_exit_2_before_any_request(server: NimbusProcess, tmp_path: Path) -> None:
    # a path that does not exist used to create a function with an empty zip and exit 0
    one_line(nimbus(server, tmp_path, "functions", "deploy", "ux-typo", str(tmp_path / "no-such-dir")), 2,
             f"nimbus functions: {tmp_path / 'no-such-dir'}: no such file or directory")
    (tmp_path / "empty").mkdir()
    one_line(nimbus(server, tmp_path, "functions", "deploy", "ux-typo", str(tmp_path / "empty")), 2, "nimbus functions: ")
    assert "ux-typo" not in nimbus(server, tmp_path, "functions", "list").stdout
    one_line(nimbus(server, tmp_path, "functions", "invoke", "ux-fn-0", "{not json"), 2, "nimbus functions: the payload is not JSON")
    one_line(nimbus(server, tmp_path, "logs", "ux-fn-0", "--since", "yesterday"), 2, "nimbus logs: --since 'yesterday' is neither")
    cp = nimbus(server, tmp_path, "functions", "deploy", "ux-typo", str(tmp_path), "--env", "NOEQUALS")
    assert cp.returncode == 2 and "argument --env: expected KEY=VALUE, got 'NOEQUALS'" in cp.stderr and "Traceback" not in cp.stderr, cp


def test_a_closed_stdout_is_quiet(server: NimbusProcess, tmp_path: Path) -> None:
    """`nimbus functions list | head -0`: the reader is gone before anything is written."""
    r, w = os.pipe()
    os.close(r)
    try:
        cp = subprocess.run([sys.executable, "-m", "nimbus", "functions", "list"], stdout=w, stderr=subprocess.PIPE, text=True,
                            timeout=120, cwd=tmp_path,
                            env=_env(tmp_path, AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY))
    finally:
        os.close(w)
    assert cp.returncode == 141 and cp.stderr == "", cp


def test_ctrl_c_during_logs_follow(server: NimbusProcess, tmp_path: Path) -> None:
    env = _env(tmp_path, AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    proc = subprocess.Popen([sys.executable, "-m", "nimbus", "logs", "ux-fn-2", "--follow", "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    time.sleep(3)  # past the imports, polling a group that does not exist yet
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err == "" and out == "", (proc.returncode, out, err)


# --- nimbus credentials -------------------------------------------------------------------------------------------------

def test_credentials_lines_survive_eval_and_keep_the_region_already_chosen(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "credentials.json").write_text('{"access_key_id": "NKIAEXAMPLE", "secret_access_key": "a+b/c$d`e"}')
    odd = "http://127.0.0.1:4566/$(echo pwned)"
    env = _env(tmp_path, AWS_DEFAULT_REGION="eu-west-1")
    script = (f'eval "$("{sys.executable}" -m nimbus credentials --data-dir {data} --endpoint-url \'{odd}\')" && '
              'printf "%s\\n" "$AWS_ENDPOINT_URL" "$AWS_SECRET_ACCESS_KEY" "$AWS_DEFAULT_REGION"')
    sh = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert sh.returncode == 0 and sh.stdout.splitlines() == [odd, "a+b/c$d`e", "eu-west-1"], sh
    # --region wins; AWS_REGION is read as the AWS SDKs read it
    cp = subprocess.run([sys.executable, "-m", "nimbus", "credentials", "--data-dir", str(data), "--region", "us-east-2"],
                        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**env, "AWS_REGION": "ap-south-1"})
    assert cp.stdout.splitlines()[-1] == "export AWS_DEFAULT_REGION=us-east-2", cp
    cp = subprocess.run([sys.executable, "-m", "nimbus", "credentials", "--data-dir", str(data)],
                        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**env, "AWS_REGION": "ap-south-1"})
    assert cp.stdout.splitlines()[-1] == "export AWS_DEFAULT_REGION=ap-south-1", cp


# --- --help ------------------------------------------------------------------------------------------------------------

def test_every_argument_of_every_command_has_help_text(tmp_path: Path) -> None:
    import argparse

    from nimbus.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], argparse.Action]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, (*path, name))
            elif not isinstance(action, argparse._HelpAction):
                yield path, action

    missing = [f"nimbus {' '.join(p)} {a.dest}" for p, a in walk(build_parser(), ()) if a.help is None]
    assert missing == []
    # and the deploy help a user reads says what PATH is
    cp = subprocess.run([sys.executable, "-m", "nimbus", "functions", "deploy", "--help"], capture_output=True, text=True, timeout=60,
                        env=_env(tmp_path))
    assert cp.returncode == 0 and "a directory (zipped with its subdirectories) or a single file" in " ".join(cp.stdout.split()), cp
    # subcommands are named alike, and the client options they accept after the subcommand are listed there too
    for command in ("functions", "firehose"):
        cp = subprocess.run([sys.executable, "-m", "nimbus", command, "--help"], capture_output=True, text=True, timeout=60, env=_env(tmp_path))
        assert cp.returncode == 0 and "SUBCOMMAND ..." in cp.stdout, cp
    for sub in (("functions", "invoke"), ("firehose", "flush")):
        cp = subprocess.run([sys.executable, "-m", "nimbus", *sub, "--help"], capture_output=True, text=True, timeout=60, env=_env(tmp_path))
        assert cp.returncode == 0 and "--endpoint-url ENDPOINT_URL" in cp.stdout and "--region REGION" in cp.stdout, cp


def test_demo_ends_with_a_credentials_line_for_the_server_it_used(server: NimbusProcess, tmp_path: Path) -> None:
    cp = nimbus(server, tmp_path, "demo", "--fast", "--requests", "1")
    assert cp.returncode == 0, cp
    evals = [line.strip() for line in cp.stdout.splitlines() if line.strip().startswith('eval "$(nimbus credentials')]
    assert evals == [f'eval "$(nimbus credentials --endpoint-url {server.endpoint} --region us-east-2)"'], cp.stdout
