"""A content folder full of hostile entries beside good posts, for the hostile-site tests.

Each bad entry is listed with a piece of the reason the scan must give for it, so a
test can check that every one is reported by name; each good post with its title,
so a test can check that every one is published all the same. A secret file is
written beside the site (outside content/): nothing of it may reach the output.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "SECRET-3d1f8c-outside-the-content-folder"


@dataclass
class HostileSite:
    root: Path
    good: dict[str, str] = field(default_factory=dict)  # file -> title of its post
    bad: dict[str, str] = field(default_factory=dict)  # file -> a piece of its reason
    sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def markdown(title: str, date: str, body: str, extra: str = "") -> str:
    return f"---\ntitle: {title}\ndate: {date}\n{extra}---\n{body}\n"


def yaml_bomb(levels: int = 9, width: int = 9) -> str:
    """A 1 KB front matter that expands to width**levels items once walked."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "---\ntitle: Bomb\ndate: 2024-01-01\n" + "\n".join(lines) + "\n---\nBody.\n"


def build(root: Path, *, unprivileged: bool = False, big_mb: int = 6, bulk: int = 0) -> HostileSite:
    """Fill `root/content` (the site must exist). With `unprivileged`, entries that only
    bite a user without root's file-mode capabilities (unreadable files and folders)
    are made too; the caller runs postroom so. `bulk` more good posts make a scan big
    enough to read on every core (content.intake reads 200 files or more in workers)."""
    content = root / "content"
    site = HostileSite(root)
    secret = root.parent / f"{root.name}-secret.txt"
    secret.write_text(f"{SECRET}\n\nThe secret's own paragraph, long enough to be a post.\n")

    def good(name: str, title: str, text: str | bytes) -> None:
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        site.good[name] = title

    def bad(name: str, reason: str, text: str | bytes | None = None) -> Path:
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_bytes(text.encode() if isinstance(text, str) else text)
        site.bad[name] = reason
        return path

    for n in range(1, 6):
        good(
            f"good/post-{n}.md",
            f"Good post {n}",
            markdown(f"Good post {n}", f"2024-03-0{n}", "Fine."),
        )
    good(
        "good/utf16.md",
        "Written in Notepad",
        markdown("Written in Notepad", "2024-03-06", "UTF-16 with a BOM.").encode("utf-16"),
    )
    good(
        "good/bidi.md",
        "Invoice gpj.exe",
        markdown('"Invoice \u202egpj.exe"', "2024-03-07", "A right-to-left override."),
    )
    good("good/linked.md", "Linked inside", markdown("Linked inside", "2024-03-08", "Via a link."))
    os.rename(content / "good/linked.md", content / "good/.target-linked.md")
    os.symlink(".target-linked.md", content / "good/linked.md")
    for n in range(bulk):
        title = f"Bulk post {n}"
        good(f"good/bulk/{n:04d}.md", title, markdown(title, "2024-02-01", "Fine."))
    damaged = "Text\x00 with a NUL and \x07 a bell in it, kept as a paragraph."
    good("good/nul.txt", "Damaged capture", f"Damaged capture\n\n8 March 2024\n\n{damaged}\n")
    latin = "Café society\n\n9 March 2024\n\nA capture saved as Windows-1252, in a café.\n"
    good("good/latin1.txt", "Café society", latin.encode("cp1252"))

    bad("bomb.md", "aliases", yaml_bomb())
    bad("deep.md", "nested", "---\ntitle: Deep\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n")
    bad(
        "huge-front.md", "front matter", "---\ntitle: Huge\nx: '" + "y" * 70_000 + "'\n---\nBody.\n"
    )
    bad("year-zero.md", "year 0", markdown("Year zero", "0000-01-01", "Body."))
    bad("year-one.md", "out of range", markdown("Year one", "0001-01-01", "Body."))
    bad("offset.md", "offset", markdown("Offset", "2020-01-01T00:00:00+25:00", "Body."))
    bad("binary.txt", "binary", b"\x00\x01\x02\xff\xfe\x00" * 100)
    bad("empty.md", "no title", "")
    bad("blank.txt", "no post", "\n\n   \n")
    capture = "{}\n\n4 May 2024\n\nA paragraph of a post, long enough to be its body.\n"
    bad("tags-table.txt", "tags", capture.format("Tagged"))
    (content / "tags-table.meta.toml").write_text("tags = [{a = 1}]\n")
    bad(
        "bad-sidecar.txt",
        "TOML",
        "Sidecar\n\n4 May 2024\n\nA paragraph of a post with a bad sidecar.\n",
    )
    (content / "bad-sidecar.meta.toml").write_text('url = "https://x.example/\nsource = [\n')
    bad(
        "big.txt", "content.max_file_kb", b"A big file\n\n" + b"word " * (big_mb * 1024 * 1024 // 5)
    )
    bad("unicode-\u202e-name\u2028.md", "no title", "")  # a name with a bidi control: allowed
    bad("passwd.txt", "outside the content folder")
    os.symlink(secret, content / "passwd.txt")
    bad("dangling.txt", "does not exist")
    os.symlink(content / "nowhere.txt", content / "dangling.txt")
    bad("loop-a.txt", "loop")
    bad("loop-b.txt", "loop")
    os.symlink("loop-b.txt", content / "loop-a.txt")
    os.symlink("loop-a.txt", content / "loop-b.txt")
    os.mkfifo(bad("pipe.txt", "FIFO"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(bad("socket.md", "socket")))
    site.sockets.append(sock)
    os.symlink(root.parent, content / "up-folder")  # a link to a folder: not followed
    # names that cannot be shown or stored as they are
    newline_name = "forged\nline.md"
    (content / newline_name).write_text(markdown("Forged", "2024-01-01", "Body."))
    site.bad["forged\\x0aline.md"] = "control characters"
    raw = os.path.join(os.fsencode(content), b"latin1-\xe9.md")
    with open(raw, "wb") as handle:
        handle.write(markdown("Bytes", "2024-01-01", "Body.").encode())
    site.bad["latin1-\\xe9.md"] = "not valid UTF-8"
    if unprivileged:
        locked = bad("locked.md", "Permission denied", markdown("Locked", "2024-01-01", "Body."))
        os.chmod(locked, 0)
        shut = content / "shut"
        shut.mkdir()
        (shut / "inside.md").write_text(markdown("Inside", "2024-01-01", "Body."))
        site.bad["shut"] = "cannot be listed"
        os.chmod(shut, 0)
    return site
