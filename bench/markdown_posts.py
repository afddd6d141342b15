"""N Markdown posts with real-length bodies, all Markdown (no captures).

    from bench.markdown_posts import generate_markdown
    generate_markdown(site_root, 10_000)

Why a generator of its own: bench/ingest.py's `generate` writes half raw captures
with ~2.5 KB bodies, the cold-scan goal (issue 19) is about a site of Markdown
posts as Hugo would build them, with bodies of ~3–6 KB (headings, lists, links,
emphasis: what markdown-it and the sanitizer really meet). Deterministic: the
same seed gives byte-identical files.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from bench.ingest import SOURCES, WORDS


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.15:
        i = rng.randrange(n)
        words[i] = f"*{words[i]}*"
    if rng.random() < 0.08:
        i = rng.randrange(n)
        words[i] = f"[{words[i]}](https://example.org/{words[i]}/{rng.randint(1, 999)})"
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng, rng.randint(8, 20)) for _ in range(rng.randint(3, 6)))


def markdown_body(rng: random.Random) -> str:
    """3–6 KB of Markdown: paragraphs, a subheading, sometimes a list or a quote."""
    target = rng.randint(3000, 6000)
    parts: list[str] = []
    size = 0
    while size < target:
        roll = rng.random()
        if roll < 0.08 and parts:
            part = "## " + _sentence(rng, rng.randint(2, 5))[:-1]
        elif roll < 0.14:
            part = "\n".join(f"- {_sentence(rng, rng.randint(3, 9))}" for _ in range(4))
        elif roll < 0.18:
            part = "> " + _sentence(rng, rng.randint(10, 20))
        else:
            part = _paragraph(rng)
        parts.append(part)
        size += len(part) + 2
    return "\n\n".join(parts) + "\n"


def post_text(
    i: int, rng: random.Random, start: datetime = datetime(2010, 1, 1)
) -> tuple[str, str]:
    """(relative path under content/, file text) of post number `i`."""
    day = start + timedelta(days=rng.randint(0, 5000), minutes=rng.randint(0, 1439))
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
    title = f"{title} {i}"
    tags = sorted({rng.choice(WORDS) for _ in range(rng.randint(1, 3))})
    text = (
        f'---\ntitle: "{title}"\ndate: {day:%Y-%m-%dT%H:%M:%S}\nauthor: Writer {i % 97}\n'
        f"source: {rng.choice(SOURCES)}\ntags: [{', '.join(tags)}]\n---\n\n" + markdown_body(rng)
    )
    return f"{day.year}/{day.month:02d}/post-{i}.md", text


def generate_markdown(root: Path, count: int, seed: int = 19) -> int:
    """Write `count` Markdown posts under root/content; returns the bytes written."""
    rng = random.Random(seed)
    content = root / "content"
    written = 0
    for i in range(count):
        relative, text = post_text(i, rng)
        path = content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        written += len(data)
    return written
