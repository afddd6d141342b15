"""Debian packages a bench needs and pip cannot give (Hugo, Postfix's smtp-sink),
installed on first use when run as root, as tests/setup installs the tests' own."""

from __future__ import annotations

import os
import shutil
import subprocess


class Missing(RuntimeError):
    """A program is not installed and could not be."""


def ensure(program: str, package: str) -> str:
    """The path of `program`, installing Debian's `package` with apt-get (as root, the
    package lists refreshed once if the first try fails) when it is missing."""
    if (found := shutil.which(program)) is not None:
        return found
    if os.geteuid() != 0:
        raise Missing(f"{program} is not installed and this is not root: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # postfix asks otherwise
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    done = subprocess.run(install, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:  # a new machine: no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False, env=env)
        done = subprocess.run(install, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0 or (found := shutil.which(program)) is None:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Missing(f"apt-get install {package} failed ({done.returncode}): {why}")
    return found
