"""Real site folders, posts and captured pages for tests."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postroom.core.config import CONFIG_NAME, Site, open_site
from postroom.core.model import Attribution, DateSource, Post, Republish

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # when make_post's posts are picked up from


def make_site(root: Path, files: dict[str, str | bytes] | None = None, config: str = "") -> Site:
    """A site folder on disk with `files` under content/ and `config` as postroom.toml."""
    (root / "content").mkdir(parents=True, exist_ok=True)
    (root / CONFIG_NAME).write_text(
        config or '[site]\nbase_url = "https://notes.example.org/"\n', encoding="utf-8"
    )
    for name, body in (files or {}).items():
        write(root / "content" / name, body)
    return open_site(root)


def write(path: Path, body: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(body, str):
        body = body.encode("utf-8")
    path.write_bytes(body)


def make_post(n: int, **changes) -> Post:
    """Post `n`, picked up `n` hours after T0: odd ones tagged policy, each from Community Care,
    shown whole (`republish` full, as every post was before the rules: tests of the rules
    give their posts none, or read them from files)."""
    post = Post(
        id=f"post-{n}",
        title=f"Post number {n}",
        date=datetime(2016, 6, n % 28 + 1, tzinfo=UTC),
        date_source=DateSource.TEXT,
        picked_up=T0 + timedelta(hours=n),
        updated=T0 + timedelta(hours=n),
        body_html=f"<p>Body of post {n}.</p>",
        summary=f"Summary {n}",
        attribution=Attribution(
            source="Community Care",
            author="Mark Rogers",
            author_role="chief executive, Solihull MBC",
            url=f"https://www.communitycare.co.uk/{n}",
        ),
        tags=("policy",) if n % 2 else (),
        files=(f"p{n}.txt",),
        republish=Republish.FULL,
    )
    return replace(post, **changes)


def read(site: Site, name: str) -> bytes:
    """A file the build wrote, by its path under public/."""
    return (site.public_dir / name).read_bytes()


# Captures in the shapes the curator's seeds have (original text, not the seeds).
ARCHIVE = """\
Monday, 5 March 2018

First thoughts on the review

The review landed this morning and it says little about the front line.

It does say a great deal about governance.

Thursday, 1 March 2018

Snow days and duty teams

Duty teams kept the phones open through the snow.

Nobody wrote a framework for that.
"""

NEWS_PAGE = """\
Cookie Consent by Popupsmart Website

Connecting to LinkedIn...

Shutterstock Blue Desk 1620w

News & Analysis

A team manager on the new leadership framework

Posted on 14/05/2019 by

B8812 F30211 Aa17 C04 Ee20391842 D11 F

The framework is fine as far as it goes but it ignores the diary

By\u00a0Frontline Team Manager

Another list of the qualities of good leaders has been published.

  \u2022 The diary problem

Leaders are expected to chair meetings and cover absences before lunch.

Source: Example Care Weekly
"""

UNDATED_COMMENT = """\
Your browser is no longer supported

For the best possible experience using our website we recommend you upgrade to a newer version or another browser.

Your browser appears to have cookies disabled. For the best experience of this website, please enable cookies in your browser

We'll assume we have your consent to use cookies, for example so you won't need to log in each time you visit our site.
Learn more

Reform needs patience

  \u2022 Comment

Reform has changed direction several times in a decade.

Lasting improvement comes from steady investment in people.

Jane Whitfield, director of children's services, Example County Council

  \u2022 Comment

Have your say

You must sign in to make a comment

Please remember that the submission of any material is governed by our Terms and Conditions and by submitting material you confirm your agreement to these Terms and Conditions.

Links may be included in your comments but HTML is not permitted.
"""

JUNK_LINES = (
    "Cookie Consent",
    "LinkedIn",
    "Shutterstock",
    "B8812",
    "browser",
    "cookies",
    "Learn more",
    "Comment",
    "Have your say",
    "sign in",
    "Terms and Conditions",
    "HTML is not permitted",
    "News & Analysis",
    "Posted on",
)


def legacy_token(secret: bytes, purpose: str, address: str, issued: int) -> str:
    """A token as postroom made them before they became opaque (up to c6e6512): base64url
    JSON naming the address, a dot, and its HMAC-SHA256. Links in mail already sent carry
    these, and must go on working for their lifetime."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = {"p": purpose, "a": address, "t": issued}
    payload = b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())}"


def dkim_key(folder: Path) -> tuple[Path, bytes]:
    """A new 2048-bit RSA key made by openssl in `folder`, and the TXT record a receiver
    would find for it: (private key file, record)."""
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def self_signed(folder: Path, common_name: str, alt_name: str) -> tuple[Path, Path]:
    """A certificate for `alt_name` ("IP:127.0.0.1", "DNS:pinned.test") and its key,
    made by openssl into `folder`: (cert.pem, key.pem)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={alt_name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def live_processes(pgid: int) -> list[str]:
    """The live processes of a process group, one `ps` line each (zombies are dead: the
    sandbox's init may not reap them): what a stopped command left running."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pgid=,stat=,args="], capture_output=True, text=True)
    return [
        line
        for line in ps.stdout.splitlines()
        if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
    ]


#: how a command is stopped: (to whom, signal, exit code, what it says)
STOPS = [
    ("group", signal.SIGINT, 130, "interrupted"),  # Ctrl-C at a terminal
    ("parent", signal.SIGINT, 130, "interrupted"),
    ("parent", signal.SIGTERM, 143, "stopped by SIGTERM"),  # timeout(1), cron, CI
]


def in_a_new_python(code: str, timeout: float = 60) -> object:
    """What `code` prints last, as JSON, run in a new interpreter: what a module imports,
    or a process keeps, when nothing else has run in it (a test's process has imported
    everything). Fails with the interpreter's stderr if it did not end well."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
