"""Run the app's Solara server as a child process that never outlives ``pairsim app``.

``pairsim app`` starts ``python -m solara run sim/app.py`` (:func:`serve`). The
child gets a process group of its own, so stopping it reaches everything it
started; SIGTERM or SIGINT (Ctrl-C) sent to ``pairsim app`` is forwarded to
that group, which is then waited for and killed if it has not stopped within
:data:`STOP_TIMEOUT_S`. On Linux the child also asks the kernel to kill it if
its parent dies first (``prctl(PR_SET_PDEATHSIG)``), which covers a parent
killed by SIGKILL, where no handler runs: the child starts as
``python -m sim.app_server PARENT_PID COMMAND...``, which sets that and then
becomes ``COMMAND`` (exec keeps the setting). This avoids ``preexec_fn``, which
is unsafe in a parent with threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

STOP_TIMEOUT_S = 10.0
"""How long a stopped server may take to shut down cleanly before its process group is killed."""

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class _Stopped(Exception):
    """Raised by the signal handler in the parent, so the wait for the child ends."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def die_with_parent(parent: int) -> bool:
    """Have the kernel SIGKILL this process when ``parent`` (its parent) dies; False where that cannot be set.

    Linux only. If the parent has died already, the kernel would never send the
    signal, so this process exits at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:
        os._exit(1)
    return True


def start(command: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` as the leader of a new process group; on Linux the kernel kills it if this process dies."""
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-m", "sim.app_server", str(os.getpid()), *command]
    return subprocess.Popen(list(command), env=None if env is None else dict(env), process_group=0)


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
    """Send ``signum`` to the child's whole process group, wait for the child, and SIGKILL the group if it lingers.

    Returns the child's exit status. Safe to call on a child that has already exited
    (whatever it left behind in its group is still signalled).
    """
    _signal_group(process.pid, signum)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        code = process.wait()
    _signal_group(process.pid, signal.SIGKILL)  # anything of the group that outlived its leader
    return code


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone (a PermissionError means the id now belongs to someone else's group)


def serve(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run the server until it exits or this process gets SIGTERM/SIGINT; stop the server's whole group either way.

    Returns the server's exit status, or 128 + the signal number when stopped by a signal
    (130 for Ctrl-C, 143 for SIGTERM), as a shell reports it.
    """

    def on_signal(signum: int, _frame: object) -> None:
        for forwarded in FORWARDED_SIGNALS:  # a second Ctrl-C must not interrupt the clean-up below
            signal.signal(forwarded, signal.SIG_IGN)
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in FORWARDED_SIGNALS}  # before the child exists
    process: subprocess.Popen | None = None
    try:
        process = start(command, env)
        code = process.wait()
        stop(process)  # the server exited on its own: clear anything it left in its group
        return code
    except _Stopped as stopped:
        if process is not None:
            stop(process, stopped.signum)
        return 128 + stopped.signum
    finally:
        if process is not None and process.poll() is None:  # any other exception: never leave the server running
            stop(process)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exec_tied_to_parent(argv: Sequence[str]) -> None:
    """``python -m sim.app_server PARENT_PID COMMAND...``: die with PARENT_PID, then become COMMAND."""
    parent, command = int(argv[0]), list(argv[1:])
    die_with_parent(parent)
    os.execv(command[0], command)


if __name__ == "__main__":
    _exec_tied_to_parent(sys.argv[1:])
