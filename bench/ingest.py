"""Ingest and build speed on generated posts; prints numbers, asserts nothing.

    python bench/ingest.py [--posts 10000]

Half the posts are Markdown with front matter, half raw text captures shaped
like the curator's (junk banner, date line, title, byline, body, credit), so
the date reader (dateparser) is measured on the path it really takes.
Goals (issue 2): warm rescan < 0.3 s, cold ingest < 20 s, feeds for a
50-entry window < 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from postroom.content.dates import _parse, find_dates
from postroom.content.intake import scan
from postroom.core.config import Site, open_site
from postroom.store import Store

WORDS = [
    "council",
    "social",
    "work",
    "children",
    "services",
    "ofsted",
    "inspection",
    "caseload",
    "supervision",
    "reform",
    "practice",
    "family",
    "court",
    "placement",
    "review",
    "budget",
    "team",
    "manager",
    "leadership",
    "duty",
    "early",
    "help",
    "safeguarding",
    "workforce",
    "retention",
    "agency",
    "funding",
    "policy",
    "local",
    "authority",
]
SOURCES = ("Community Care", "Example Care Weekly", "The Practice Blog", "Council News")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _paragraphs(rng: random.Random) -> list[str]:
    return [" ".join(_sentence(rng, rng.randint(8, 20)) for _ in range(4)) for _ in range(6)]


def _fast_paragraphs(rng: random.Random) -> list[str]:
    """_paragraphs' shape (6 paragraphs of 4 sentences of 8-20 words) with one
    rng.choices per sentence: about 5x faster, for 100,000-post sites."""
    return [
        " ".join(
            " ".join(rng.choices(WORDS, k=rng.randint(8, 20))).capitalize() + "." for _ in range(4)
        )
        for _ in range(6)
    ]


def markdown_post(i: int, day: datetime, title: str, body: list[str], source: str, tag: str) -> str:
    """One generated post as Markdown with the front matter postroom reads."""
    return (
        f'---\ntitle: "{title}"\ndate: {day:%Y-%m-%d}\nauthor: Writer {i % 97}\n'
        f"source: {source}\ntags: [{tag}]\n---\n" + "\n\n".join(body) + "\n"
    )


def generate(root: Path, count: int, seed: int = 7, markdown_only: bool = False) -> None:
    """`count` posts under root/content/<year>/<month>/. By default half Markdown, half
    raw captures (the date reader's real path). markdown_only: every post Markdown with
    front matter (title, date, author, source, tags), the form Hugo and Pelican can read
    too, so one set of posts serves all three tools; its bodies come from a faster
    generator of the same shape, and folders are made once each."""
    rng = random.Random(seed)
    start = datetime(2010, 1, 1)
    if markdown_only:
        made: set[Path] = set()
        for i in range(count):
            day = start + timedelta(days=rng.randint(0, 5000))
            title = f"{_sentence(rng, rng.randint(3, 8))[:-1]} {i}"
            folder = root / "content" / f"{day.year}" / f"{day.month:02d}"
            if folder not in made:
                folder.mkdir(parents=True, exist_ok=True)
                made.add(folder)
            body = _fast_paragraphs(rng)
            text = markdown_post(i, day, title, body, rng.choice(SOURCES), rng.choice(WORDS))
            (folder / f"post-{i}.md").write_text(text, encoding="utf-8")
        return
    for i in range(count):
        day = start + timedelta(days=rng.randint(0, 5000))
        title = f"{_sentence(rng, rng.randint(3, 8))[:-1]} {i}"
        folder = root / "content" / f"{day.year}" / f"{day.month:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = _paragraphs(rng)
        if i % 2:
            text = markdown_post(i, day, title, body, rng.choice(SOURCES), rng.choice(WORDS))
            (folder / f"post-{i}.md").write_text(text, encoding="utf-8")
        else:
            date_line = f"{day:%A}, {day.day} {MONTHS[day.month - 1]} {day.year}"
            (folder / f"capture-{i}.txt").write_text(
                "Cookie Consent by Example Website\n\nConnecting to LinkedIn...\n\n"
                f"{date_line}\n\n{title}\n\nBy Writer {i % 97}\n\n"
                + "\n\n".join(body)
                + f"\n\nSource: {rng.choice(SOURCES)}\n",
                encoding="utf-8",
            )


def timed(label: str, fn, results: dict[str, float]):
    began = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - began
    print(f"{label:<44} {results[label]:9.3f} s")
    return value


def bench_dates(samples: int = 2000) -> None:
    rng = random.Random(1)
    lines = [
        f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(1990, 2030)}"
        for _ in range(samples)
    ]
    _parse.cache_clear()
    began = time.perf_counter()
    for line in lines:
        find_dates(line)
    per = (time.perf_counter() - began) / samples
    print(f"{'dateparser, one uncached date line':<44} {per * 1e3:9.3f} ms")


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--posts", type=int, default=10_000)
    posts = args.parse_args().posts
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "postroom.toml").write_text('[site]\nbase_url = "https://bench.example/"\n')
        timed(f"generate {posts} posts", lambda: generate(root, posts), results)
        site: Site = open_site(root)
        store = Store(site.store_url)
        report = timed("cold ingest (empty store)", lambda: scan(site, store), results)
        print(f"  {len(report.new)} posts, {report.parsed} files parsed")
        warm = [
            timed("warm rescan (nothing changed)", lambda: scan(site, store), results)
            for _ in range(3)
        ]
        assert all(r.parsed == 0 for r in warm)
        (site.content_dir / "new.md").write_text("---\ntitle: New\ndate: 2026-01-01\n---\nHi\n")
        one = timed("rescan with one new file", lambda: scan(site, store), results)
        print(f"  {one.parsed} file parsed")
        bench_builds(site, store, results)
        store.close()
    bench_dates()


def bench_builds(site: Site, store: Store, results: dict[str, float]) -> None:
    from postroom.feeds import build
    from postroom.feeds.syndication import FORMATS, FeedSet, window

    posts = timed("load published posts from the store", store.posts, results)
    feed = FeedSet("", site.config.site.title, window(posts, 50))
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        for render in FORMATS.values():
            render(site, feed)
        runs.append(time.perf_counter() - began)
    print(
        f"{'feeds (Atom+RSS+JSON) for a 50-entry window':<44} "
        f"{statistics.median(runs):9.3f} s (median of 5)"
    )
    timed("full build, cold (all feeds + pages)", lambda: build(site, posts), results)
    timed("full build, warm (nothing to rewrite)", lambda: build(site, posts), results)


if __name__ == "__main__":
    main()
