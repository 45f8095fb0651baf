"""Kill -9 harness for the durability tests: run a child script that prints one line per acknowledged write, SIGKILL it mid-stream."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


class Killer:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def run(self, script: str, args: list[str], *, kill_after_s: float) -> list[str]:
        """Start ``script``, wait for its READY line, let it work ``kill_after_s``, SIGKILL it.

        Returns the complete lines it printed (a line cut by the kill is dropped).
        """
        path = self.tmp_path / "child.py"
        path.write_text(script)
        env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        child = subprocess.Popen(
            [sys.executable, str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert child.stdout is not None
        out = bytearray()
        deadline = None
        give_up = time.monotonic() + 20
        try:
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if now > give_up:
                    raise AssertionError("child never became ready")
                ready, _, _ = select.select([child.stdout], [], [], 0.01)
                if ready:
                    chunk = os.read(child.stdout.fileno(), 1 << 16)
                    if not chunk:
                        break
                    out += chunk
                    if deadline is None and b"READY\n" in out:
                        deadline = time.monotonic() + kill_after_s
        finally:
            child.send_signal(signal.SIGKILL)
            rest, err = child.communicate()
        out += rest
        if child.returncode != -signal.SIGKILL:
            raise AssertionError(f"child exited on its own ({child.returncode}): {err.decode()[-2000:]}")
        text = out.decode()
        lines = text.split("\n")
        return lines[:-1]  # the last element is "" or a line the kill cut short
