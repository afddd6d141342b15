"""Which process holds something: "host:pid", and whether that process is gone.

Leases, temp files and outbox claims are all stamped with their holder so that
one left behind by a process killed with -9 can be taken back at once, not after
a timeout. Only a process on this host can be known to be gone.
"""

from __future__ import annotations

import os
import socket


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_gone(holder: str) -> bool:
    """True when `holder` names a process on this host that is gone."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
