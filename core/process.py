"""Which process holds something: "host:pid", and whether that process is gone.

Leases, temp files and outbox claims are all stamped with their holder so that
one left behind by a process killed with -9 can be taken back at once, not after
a timeout. Only a process on this host can be known to be gone.
"""

from __future__ import annotations

import os
import socket

_me: tuple[int, str] = (0, "")


def this_process() -> str:
    """`host:pid`, asked of the system once a process (a build names every temp file it
    makes by it), again in a forked child."""
    global _me
    if _me[0] != os.getpid():
        _me = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}")
    return _me[1]


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
