"""The wheel as a user gets it: built from the repository, installed into a new venv, and
run from a folder outside the repository, so nothing can be imported from the checkout.

How, and why so:
- Built without isolation, by the project venv's setuptools: pinned in the test extras to a
  version pyproject's build-system admits (checked below). An isolated build would fetch
  setuptools from the index on every run: tens of seconds, and the network.
- Built from a copy of the repository: an in-tree build leaves build/ and an .egg-info in
  the checkout, and a stale build/lib can slip deleted modules into the wheel.
- Installed with `--no-deps` into a venv made without pip (pip's own `--python` installs
  into it); the dependencies come from the project venv, whose site-packages a .pth file
  adds to the new venv's path, behind the venv's own. Downloading them again would prove
  only that the index works. That directory holds no `postroom/` (the checkout's install
  there is editable, through a finder that a path entry does not load), and the test
  checks which `postroom` the venv imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # pytest's own dependency
from postroom import __version__
from service_support import ROOT

pytestmark = pytest.mark.once

# Outputs and tools' leftovers in a checkout: never part of a build's input.
NOT_SOURCES = shutil.ignore_patterns(
    *(".git", ".venv*", "__pycache__", ".*_cache", "build", "dist", "*.egg-info"),
    *("public", "preview", "postroom.db*"),
)


def run(*commands: list[str | Path], cwd: Path) -> list[str]:
    """Commands side by side in a clean environment (no venv, no PYTHONPATH, no test
    database); each must succeed. Their outputs, in order."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "POSTROOM_DATABASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    started = [
        subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = []
    for command, process in zip(commands, started, strict=True):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{command} exited {process.returncode}:\n{out}\n{err}"
        outputs.append(out)
    return outputs


def build_wheel(into: Path, scratch: Path) -> Path:
    """The wheel, made by pyproject's build backend through its PEP 517 hook, as
    `python -m build --no-isolation` would (pip wheel does the same in three processes)."""
    system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    [requirement] = system["requires"]
    assert Requirement(requirement).specifier.contains(version("setuptools")), requirement
    source = scratch / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    hook = f"import {system['build-backend']} as backend; backend.build_wheel({str(into)!r})"
    run([sys.executable, "-c", hook], cwd=source)
    [wheel] = into.glob("postroom-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """The wheel in a new venv, the project venv's dependencies behind it; its bin/."""
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    run([*pip, "install", "-q", "--no-deps", "--no-index", wheel], cwd=venv.parent)
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (venv / "lib" / minor / "site-packages" / "dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv / "bin"


def test_the_wheel_installs_only_postroom_and_runs_the_example_site(tmp_path):
    wheel = build_wheel(tmp_path / "dist", tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"postroom", f"postroom-{__version__}.dist-info"}, tops
    assert {"postroom/__init__.py", "postroom/scheduler.py"} <= set(names)
    for folder in ("feeds/templates", "feeds/static", "emails/templates"):
        shipped = {n for n in names if n.startswith(f"postroom/{folder}/")}
        in_repo = {f"postroom/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / folder).glob("*")}
        assert shipped == in_repo and shipped, (folder, shipped ^ in_repo)
    assert not [n for n in names if n.startswith(("postroom/tests/", "postroom/examples/"))]

    bin_ = install(wheel, tmp_path / "venv")
    away = tmp_path / "elsewhere"  # the working folder: outside the checkout
    away.mkdir()
    site = tmp_path / "site"
    shutil.copytree(ROOT / "examples" / "site", site, ignore=NOT_SOURCES)
    imported, helped, said, _ = run(  # side by side: each pays for the same imports
        [bin_ / "python", "-c", "import postroom; print(postroom.__file__)"],
        [bin_ / "postroom", "--help"],
        [bin_ / "postroom", "--version"],
        [bin_ / "postroom", "--site", site, "run", "--once"],
        cwd=away,
    )
    assert Path(imported.strip()).is_relative_to(tmp_path / "venv"), imported
    assert helped.startswith("usage: postroom"), helped
    assert said.strip() == f"postroom {__version__}", said
    public = site / "public"
    pages = list(public.glob("posts/*/index.html"))
    items = json.loads((public / "feed.json").read_text(encoding="utf-8"))["items"]
    assert pages and items
    assert (public / "atom.xml").is_file() and (public / "rss.xml").is_file()
    assert (public / "index.html").is_file()
    assert (public / "feed.xsl").read_bytes() == (ROOT / "feeds/static/feed.xsl").read_bytes()
