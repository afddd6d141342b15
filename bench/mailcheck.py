"""The digest as mail tools see it: SpamAssassin's score, tidy's errors, and the size
that Gmail clips at, for a default issue of the example site and a 20-post
full-text issue.

    python bench/mailcheck.py

Each issue is sent with the `files` transport (outbox/<issue>/<id>.eml, the bytes an
SMTP server would get) from a copy of examples/site given a real-looking base URL and
sender. SpamAssassin runs with local tests only (`-L`: no network lookups, so the
score is what the message itself earns); tidy is asked for errors only, and the
table attributes email needs (cellpadding, cellspacing, role on a table) are counted
apart as warnings. Needs Debian's spamassassin and tidy (`apt-get install
spamassassin tidy`). Prints numbers, asserts nothing; exits 1 if a tool is missing
or an issue could not be made.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GMAIL_CLIP_KB = 102  # Gmail shows "[Message clipped]" past this much HTML
SECRET = "mailcheck-bench-secret-0123456789ab"
CONFIG = """
[mail]
from_address = "digest@notes.example.org"
from_name = "Practice Notes"
transport = "files"
"""
LONG_POST = (
    "---\ntitle: Long read {n}\ndate: 2026-11-{day:02d}\n---\n"
    + ("A paragraph of a long post about practice, supervision and the week's news. " * 12 + "\n\n")
    * 40
)


def _postroom(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POSTROOM_SECRET": SECRET}
    command = [sys.executable, "-m", "postroom.scheduler", "--site", str(site), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def _site(folder: Path, extra: str = "", posts: int = 0) -> Path:
    site = folder / "site"
    shutil.copytree(ROOT / "examples" / "site", site)
    config = (site / "postroom.toml").read_text()
    config = config.replace('"http://localhost:8000/"', '"https://notes.example.org/"')
    (site / "postroom.toml").write_text(config + CONFIG + extra)
    if posts:
        shutil.rmtree(site / "content")
        (site / "content").mkdir()
        for n in range(posts):
            text = LONG_POST.format(n=n, day=n % 28 + 1)
            (site / "content" / f"long-{n:02d}.md").write_text(text)
    return site


def _issue(site: Path) -> Path:
    """Send the site's first issue to one subscriber; the .eml written."""
    for args in (("subscribers", "add", "reader@example.com"), ("digest", "send")):
        done = _postroom(site, *args)
        if done.returncode != 0:
            raise SystemExit(f"mailcheck: {' '.join(args)} failed: {done.stderr.strip()}")
    found = sorted((site / "outbox").rglob("*.eml"))
    if not found:
        raise SystemExit("mailcheck: the issue wrote no message to outbox/")
    return found[0]


def _spam_score(message: Path) -> tuple[float, list[str]]:
    done = subprocess.run(
        ["spamassassin", "-t", "-L"], input=message.read_bytes(), capture_output=True, check=False
    )
    report = done.stdout.decode(errors="replace")
    score = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.M)
    rules = re.findall(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", report, re.M)
    if not score:
        raise SystemExit("mailcheck: no X-Spam-Status from spamassassin")
    return float(score.group(1)), [f"{name} {points}" for points, name in rules]


def _html_part(message: Path) -> str:
    parsed = email.message_from_bytes(message.read_bytes(), policy=email.policy.default)
    part = parsed.get_body(("html",))
    assert part is not None
    return part.get_content()


def _tidy(html: str) -> tuple[list[str], list[str]]:
    done = subprocess.run(
        ["tidy", "-q", "-e", "--doctype", "html5", "-utf8"],
        input=html.encode(),
        capture_output=True,
        check=False,
    )
    lines = done.stderr.decode(errors="replace").splitlines()
    errors = [line for line in lines if "Error:" in line]
    email_normal = re.compile(r"cellpadding|cellspacing|role|summary|align|bgcolor|width")
    warnings = [line for line in lines if "Warning:" in line and not email_normal.search(line)]
    return errors, warnings


def _report(name: str, message: Path) -> None:
    score, rules = _spam_score(message)
    html = _html_part(message)
    errors, warnings = _tidy(html)
    size = len(html.encode()) / 1024
    print(f"== {name}")
    print(
        f"   message {message.stat().st_size / 1024:.1f} KB; HTML part {size:.1f} KB"
        f" (Gmail clips at {GMAIL_CLIP_KB} KB: {'fits' if size <= GMAIL_CLIP_KB else 'CLIPPED'})"
    )
    print(f"   SpamAssassin (local tests): {score:+.1f}  {', '.join(rules) or 'no rules hit'}")
    print(f"   tidy: {len(errors)} errors, {len(warnings)} warnings beyond email table attributes")
    for line in (errors + warnings)[:10]:
        print(f"      {line}")


def main() -> int:
    missing = [tool for tool in ("spamassassin", "tidy") if not shutil.which(tool)]
    if missing:
        print(f"mailcheck: needs {' and '.join(missing)} (apt-get install {' '.join(missing)})")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        default = _site(Path(tmp) / "default")
        _report("the example site's first issue (defaults)", _issue(default))
        full = _site(Path(tmp) / "full", "\n[digest]\nfull_text = true\n", posts=20)
        _report("20 long posts with digest.full_text = true", _issue(full))
    return 0


if __name__ == "__main__":
    sys.exit(main())
