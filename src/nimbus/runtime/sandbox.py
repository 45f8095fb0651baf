"""Isolation: bubblewrap mount namespaces and cgroup v1 memory limits.

With bubblewrap an environment sees: the system directories read-only (/usr, /lib*, /bin, /sbin,
/etc), its Python installation read-only, its code read-only at /var/task, its layers at /opt, a
private tmpfs /tmp of EphemeralStorage size, private /dev and /proc, and nothing of the Nimbus data
dir or of other functions. Network and the Runtime API are loopback-shared (the function must reach
Nimbus). Python environments fork from a zygote that runs inside such a sandbox; each child gets its
own PID namespace (and a /proc showing only it), enters its own mount namespace, binds its code and
layers, detaches the host view and drops every capability (see ``_zygote_main.py``). ``provided.*`` runtimes and the spawn fallback run under ``bwrap`` directly.

Without bubblewrap (``sandbox = "none"``, or ``auto`` where bwrap is missing) an environment runs as
the server's own user with cwd = its code dir and a private TMPDIR: it can read anything that user can
(other functions' code, the data dir) and /tmp is shared. Memory is limited by a cgroup v1 memory
controller when /sys/fs/cgroup/memory is writable, else by polling RSS during an invocation.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from nimbus.config import ConfigError

log = logging.getLogger(__name__)

TASK_ROOT = "/var/task"
OPT_ROOT = "/opt"
HOST_VIEW = "/.nimbus-host"  # where a sandboxed zygote sees the host, detached in every child
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


@lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bwrap binary, if it exists and can create namespaces here."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        r = subprocess.run(
            [path, "--ro-bind", "/", "/", "--unshare-user", "--unshare-ipc", "--dev", "/dev", "--proc", "/proc", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        log.warning("bwrap unusable: %s", r.stderr.decode(errors="replace").strip())
        return None
    return path


def sandbox_mode(setting: str) -> str:
    """Settings.sandbox (auto | bwrap | none) → the mode in force: "bwrap" or "none"."""
    if setting == "none":
        return "none"
    if bwrap_path() is not None:
        return "bwrap"
    if setting == "bwrap":
        raise ConfigError("sandbox = bwrap but bubblewrap is not installed or cannot create namespaces")
    return "none"


def python_roots(python: str) -> list[str]:
    """Directories an interpreter needs visible: its prefix, base prefix and the binary's own dir."""
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"], capture_output=True, text=True, timeout=30
    ).stdout.split()
    roots = {os.path.realpath(p) for p in out} | {str(Path(p)) for p in out}
    roots.add(str(Path(os.path.realpath(python)).parent.parent))
    roots.add(str(Path(python).parent.parent))
    return sorted(r for r in roots if r not in ("/", "/usr") and os.path.isdir(r))


def _system_binds() -> list[str]:
    args: list[str] = []
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


def bwrap_env_argv(
    *, code_dir: Path, opt_dir: Path | None, tmp_mb: int, roots: Sequence[str], argv: Sequence[str]
) -> list[str]:
    """bwrap command line for one environment run directly (provided.* runtimes, spawn fallback)."""
    bw = bwrap_path()
    if bw is None:
        raise ConfigError("bubblewrap is not available")
    args = [bw, "--unshare-all", "--share-net", "--die-with-parent", "--hostname", "localhost"]
    args += _system_binds()
    # the private /tmp first: interpreter roots may live under /tmp (a checkout there) and are bound over it
    args += ["--size", str(tmp_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp"]
    for r in roots:
        args += ["--ro-bind", r, r]
    args += ["--dev", "/dev", "--proc", "/proc", "--dir", "/var", "--ro-bind", str(code_dir), TASK_ROOT]
    if opt_dir is not None:
        args += ["--ro-bind", str(opt_dir), OPT_ROOT]
    else:
        args += ["--dir", OPT_ROOT]
    args += ["--chdir", TASK_ROOT, "--"]
    return args + list(argv)


def bwrap_zygote_argv(*, roots: Sequence[str], argv: Sequence[str]) -> list[str]:
    """bwrap command line for a zygote: a user namespace in which children may still mount.

    The zygote keeps CAP_SYS_ADMIN (inside its user namespace only) and the host's root read-only at
    ``HOST_VIEW``; every child unshares its mount namespace, binds its own code, then detaches
    ``HOST_VIEW`` and drops all capabilities before running function code.
    """
    bw = bwrap_path()
    if bw is None:
        raise ConfigError("bubblewrap is not available")
    args = [bw, "--unshare-user", "--unshare-ipc", "--unshare-uts", "--hostname", "localhost", "--die-with-parent"]
    args += ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
    args += _system_binds()
    args += ["--tmpfs", "/tmp"]  # before the roots, which may live under /tmp
    for r in roots:
        args += ["--ro-bind", r, r]
    args += ["--dev", "/dev", "--proc", "/proc", "--dir", TASK_ROOT, "--dir", OPT_ROOT]
    args += ["--ro-bind", "/", HOST_VIEW, "--"]
    return args + list(argv)


def merge_layers(layer_dirs: Sequence[Path], cache_root: Path) -> Path | None:
    """One directory to show at /opt: layers extracted in order, later files winning (as AWS does).

    A single layer is used as is; several are merged once into ``cache_root`` by hard links (copies
    across file systems), keyed by their paths.
    """
    if not layer_dirs:
        return None
    if len(layer_dirs) == 1:
        return layer_dirs[0]
    import hashlib

    key = hashlib.sha256("\0".join(str(p) for p in layer_dirs).encode()).hexdigest()[:32]
    dest = cache_root / key
    if dest.is_dir():
        return dest
    tmp = cache_root / f".{key}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for layer in layer_dirs:
        for src_root, dirs, files in os.walk(layer):
            rel = os.path.relpath(src_root, layer)
            target = tmp / rel
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                s, d = os.path.join(src_root, f), target / f
                if d.exists() or d.is_symlink():
                    d.unlink()
                if os.path.islink(s):
                    os.symlink(os.readlink(s), d)
                    continue
                try:
                    os.link(s, d)
                except OSError:
                    shutil.copy2(s, d)
    cache_root.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, dest)
    except OSError:  # another environment merged it first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


class Cgroup:
    """One environment's cgroup v1 memory controller directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._usage_fd = -1

    def add(self, pid: int) -> bool:
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
            return True
        except OSError:
            return False

    def _read_int(self, name: str) -> int:
        try:
            return int((self.path / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def max_usage_bytes(self) -> int:
        if self._usage_fd < 0:  # kept open: a pread is ~1 µs, an open+read ~40 µs
            try:
                self._usage_fd = os.open(self.path / "memory.max_usage_in_bytes", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return 0
        try:
            return int(os.pread(self._usage_fd, 32, 0))
        except (OSError, ValueError):
            return 0

    def oom_killed(self) -> bool:
        try:
            for line in (self.path / "memory.oom_control").read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "oom_kill" and int(v) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return self._read_int("memory.failcnt") > 0 and self._read_int("memory.max_usage_in_bytes") >= self._read_int(
            "memory.limit_in_bytes"
        )

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self) -> None:
        if self._usage_fd >= 0:
            os.close(self._usage_fd)
            self._usage_fd = -1
        try:
            os.rmdir(self.path)
        except OSError:
            pass


class MemoryCgroups:
    """Creates per-environment memory cgroups under the server's own cgroup v1 memory directory."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def detect(cls) -> "MemoryCgroups":
        base = Path("/sys/fs/cgroup/memory")
        try:
            rel = ""
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, ctrls, path = line.split(":", 2)
                if "memory" in ctrls.split(","):
                    rel = path
            own = base / rel.lstrip("/")
            if not (own / "memory.limit_in_bytes").exists():
                return cls(None)
            root = own / f"nimbus-{os.getpid()}"
            root.mkdir(exist_ok=True)
            return cls(root)
        except OSError:
            return cls(None)

    @property
    def available(self) -> bool:
        return self.root is not None

    def create(self, name: str, limit_bytes: int) -> Cgroup | None:
        if self.root is None:
            return None
        path = self.root / name
        try:
            path.mkdir()
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            try:
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
            except OSError:
                pass
            return Cgroup(path)
        except OSError as e:
            log.warning("cgroup create failed path=%s err=%s", path, e)
            try:
                os.rmdir(path)
            except OSError:
                pass
            return None

    def close(self) -> None:
        if self.root is not None:
            for child in self.root.iterdir() if self.root.exists() else []:
                if child.is_dir():
                    try:
                        os.rmdir(child)
                    except OSError:
                        pass
            try:
                os.rmdir(self.root)
            except OSError:
                pass

