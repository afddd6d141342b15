"""`python -m postroom.scheduler ...` for the tests, without paying its imports each time.

A `postroom` command spends about 1.3 s of CPU importing its stacks (SQLAlchemy, the
readers, Jinja2, the mail code) before it does anything, and the suite runs a few
hundred of them on each pass: most of the suite's CPU. So the tests' commands are
forked from a prestarted Python (the zygote, one per pytest process) that has imported
postroom once and done nothing else: no thread, no database, no logging set up.

Each command is still a process of its own, as a real `python -m postroom.scheduler`
is: its own pid (signals, SIGKILL, /proc), its own stdin/stdout/stderr (pipes made by
the test, as Popen's), the test's environment and working folder, `sys.argv`,
`sys.orig_argv` (SIGHUP re-execs from it) and `__main__` as `-m` sets them, and the
interpreter's normal exit (atexit, threads joined, stdio flushed), so exit codes and
tracebacks are what `-m` gives. What differs:
its parent is the zygote (its exit status is relayed to the test), and it shares its
zygote's hash seed (there are two, taken in turn, each with a seed of its own). A
command whose environment changes what Python does at start-up (PYTHON*, the locale)
is run with a real exec instead, and so is every command when POSTROOM_TEST_EXEC=1.
Tests about start-up itself, peak memory or process trees use subprocess directly
and are not touched.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

EXEC_ENV = "POSTROOM_TEST_EXEC"  # "1": every command with a real exec, no zygote
# what Python reads from the environment when it starts: a command setting these is exec'd
_STARTUP = ("PYTHON", "LC_", "LANG")
_PACKAGES = "core", "store", "content", "feeds", "emails", "service", "web"


def _startup_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP)}


class Forked:
    """A command forked by the zygote, with the part of Popen's interface tests use."""

    def __init__(
        self,
        zygote: _Zygote,
        args: list[str],
        env: dict[str, str],
        stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) -> None:
        self.args = args
        self.returncode: int | None = None
        argv = [os.fspath(a) for a in args[3:]]  # as Popen takes paths
        request = json.dumps({"module": args[2], "argv": argv, "env": env, "cwd": os.getcwd()})
        # as Popen's: PIPE (read here, as text), DEVNULL, an fd; stderr also STDOUT
        ours: list[int] = []  # fds opened here for the child, closed once it has them

        def child_end(how, writing: bool) -> tuple[int, int | None]:
            """(the fd the child gets, the read end kept here or None)"""
            if how == subprocess.PIPE:
                read, write = os.pipe()
                ours.append(write if writing else read)
                return (write, read) if writing else (read, write)
            if how == subprocess.DEVNULL:
                ours.append(os.open(os.devnull, os.O_WRONLY if writing else os.O_RDONLY))
                return ours[-1], None
            if how is None:
                return (1 if writing else 0), None
            return (how if isinstance(how, int) else how.fileno()), None

        if stdin not in (None, subprocess.DEVNULL):
            raise ValueError("a forked command's stdin is the test's or DEVNULL")
        child_in, _ = child_end(stdin, writing=False)
        child_out, out_r = child_end(stdout, writing=True)
        if stderr == subprocess.STDOUT:
            child_err, err_r = child_out, None
        else:
            child_err, err_r = child_end(stderr, writing=True)
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._conn.connect(zygote.path)
            socket.send_fds(self._conn, [request.encode()], [child_in, child_out, child_err])
            reply = self._conn.recv(64)
            if not reply:
                raise RuntimeError(f"the test zygote did not start {args}")
            self.pid = int(reply)
        except BaseException:
            self._conn.close()
            for fd in (out_r, err_r):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in ours:
                os.close(fd)
        self.stdin = None
        # text, as Popen(text=True) reads; closed by communicate or at exit, as Popen's
        self.stdout = None if out_r is None else open(out_r, encoding=None)  # noqa: SIM115
        self.stderr = None if err_r is None else open(err_r, encoding=None)  # noqa: SIM115

    def _settle(self, timeout: float | None) -> bool:
        if self.returncode is not None:
            return True
        self._conn.settimeout(timeout)
        try:
            status = self._conn.recv(64)
        except (TimeoutError, BlockingIOError):
            return False
        finally:
            self._conn.settimeout(None)
        if not status:
            raise RuntimeError(f"the test zygote went away before {self.args} ended")
        self.returncode = os.waitstatus_to_exitcode(int(status))
        self._conn.close()
        return True

    def poll(self) -> int | None:
        self._settle(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._settle(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # as Popen: never signal a pid that may be reused
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(15)

    def kill(self) -> None:
        self.send_signal(9)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        def drain(name: str) -> None:
            with getattr(self, name) as stream:
                said[name] = stream.read()

        said = {n: None for n in ("stdout", "stderr") if getattr(self, n) is None}
        names = [n for n in ("stdout", "stderr") if getattr(self, n) is not None]
        readers = [threading.Thread(target=drain, args=(n,)) for n in names]
        for reader in readers:
            reader.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.wait(timeout)
            for reader in readers:
                reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
                if reader.is_alive():  # a grandchild holds the pipe open
                    raise subprocess.TimeoutExpired(self.args, timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.wait()
            raise
        return said["stdout"], said["stderr"]


class _Zygote:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="postroom-zygote-")
        self.path = os.path.join(self.folder, "socket")
        self.env = dict(os.environ)
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.path, os.getcwd()],
            stdin=subprocess.PIPE,  # closed: the zygote ends
            stdout=subprocess.PIPE,  # non-tty, as a command's own stdout is
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the test zygote did not start (see its stderr)")
        atexit.register(self.close)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)


# Two zygotes, taken in turn: each has its own hash seed, so two commands in a row (a
# build and its rebuild, compared byte for byte) run under different seeds, as two
# exec'd commands do, and an order that depends on string hashing still shows.
_zygotes: list[_Zygote] = []
_turn = 0
_lock = threading.Lock()


def popen(
    args: list[str],
    env: dict[str, str],
    stdin=None,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
):
    """`subprocess.Popen(args, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
    text=True)` for `[sys.executable, "-m", MODULE, ...]`, forked from a zygote when it
    can be (stdin: None or DEVNULL; stdout and stderr: PIPE, DEVNULL or a file, and
    stderr STDOUT, as Popen's)."""
    global _turn
    forkable = args[:2] == [sys.executable, "-m"] and os.environ.get(EXEC_ENV) != "1"
    if forkable:
        with _lock:
            if not _zygotes:
                _zygotes.extend(_Zygote() for _ in range(2))
            zygote = _zygotes[_turn % 2]
            _turn += 1
        if _startup_env(env) == _startup_env(zygote.env):
            return Forked(zygote, args, env, stdin, stdout, stderr)
    return subprocess.Popen(args, env=env, stdin=stdin, stdout=stdout, stderr=stderr, text=True)


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """`subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)`."""
    process = popen(args, env)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def postroom(*args: object, env: dict[str, str] | None = None, timeout: float = 120):
    """`postroom ARGS...` (the console script runs `postroom.scheduler:main`, as `-m` does)
    to completion, in the test's environment unless `env`: a CompletedProcess. The
    installed script itself is run by tests/test_wheel.py and test_cli's first test."""
    command = [sys.executable, "-m", "postroom.scheduler", *map(str, args)]
    return run(command, env=dict(os.environ) if env is None else env, timeout=timeout)


# --- the zygote itself: `python tests/prestart.py SOCKET CWD` ---


def _serve(path: str) -> tuple[dict, list[int]] | None:
    """Accept commands until stdin closes; in a forked child, return its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(0, selectors.EVENT_READ)
    running: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (connection, pid)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.fileobj == 0:
                if not os.read(0, 4096):
                    return None
            elif key.fileobj is listener:
                conn, _ = listener.accept()
                conn.settimeout(10)  # a test that connected and then failed never blocks it
                try:
                    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                except OSError:
                    conn.close()
                    continue
                conn.settimeout(None)
                if len(fds) != 3 or threading.active_count() != 1:
                    for fd in fds:
                        os.close(fd)
                    conn.close()  # never fork a process with threads
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for other, _pid in running.values():
                        other.close()
                    for pidfd in running:
                        os.close(pidfd)
                    conn.close()
                    return json.loads(message), fds
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                running[pidfd] = conn, pid
                selector.register(pidfd, selectors.EVENT_READ)
                with contextlib.suppress(OSError):  # the test stopped waiting
                    conn.send(str(pid).encode())
            else:
                conn, pid = running.pop(key.fileobj)
                selector.unregister(key.fileobj)
                os.close(key.fileobj)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):  # the test stopped waiting
                    conn.send(str(status).encode())
                conn.close()


def _become(request: dict, fds: list[int]) -> None:
    """In the forked child: be `python -m MODULE ARGV...` run from the test."""
    import runpy

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    sys.path[0] = os.getcwd()  # as -m puts it
    sys.argv = ["-m", *request["argv"]]  # run_module sets argv[0] to the module's file
    sys.orig_argv = [sys.executable, "-m", request["module"], *request["argv"]]  # a re-exec's
    sys.modules.pop(request["module"], None)  # -m finds it not yet imported, as here
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    socket_path, cwd = sys.argv[1], sys.argv[2]
    sys.path[0] = cwd  # not tests/: a command's modules are postroom's, not the tests'
    os.chdir(cwd)
    import importlib
    import pkgutil

    # every module a command may import (115, about 2 s): imported once, here
    importlib.import_module("postroom.scheduler")
    for package in _PACKAGES:
        module = importlib.import_module(f"postroom.{package}")
        for found in pkgutil.walk_packages(module.__path__, f"{module.__name__}."):
            importlib.import_module(found.name)
    child = _serve(socket_path)
    if child is not None:
        _become(*child)
