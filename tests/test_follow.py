"""Followed feeds and listed links (issue 16), against feeds and pages served on 127.0.0.1:
each new entry written once as a post with its attribution, whatever the feed does next
(a 304, a reordering, every id rewritten, a 429, a broken body); listed links fetched,
retried with backoff and said in `check`; the service picking up a new entry end to end."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from feed_server import PAGE, Item, feed_server, rss
from postroom.content.markdown import front_matter
from postroom.core.config import ConfigError, open_site
from postroom.service.fetching import Fetcher, backoff, remember_written
from postroom.service.follow import MAX_NEW_PER_POLL, Follower, next_poll, phase
from postroom.service.listed import fetch_links
from postroom.store import Store
from postroom.store.fetched import TargetKind, remember, targets
from service_support import Service, postroom, wait_until
from support import make_site

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOME = "https://www.example.org/"


def article(n: int, days_ago: float, **more) -> Item:
    fields = {
        "title": f"Thresholds report {n}",
        "link": f"https://www.example.org/news/{n}?utm_source=rss&utm_medium=feed",
        "published": NOW - timedelta(days=days_ago),
        "guid": f"urn:example:{n}",
        "author": "Jane Doe",
    }
    return Item(**(fields | more))


def config(*follows: str, extra: str = "") -> str:
    tables = "".join(f"[[follow]]\n{f}\n" for f in follows)
    return (
        '[site]\nbase_url = "https://notes.example.org/"\n[fetch]\nallow_private = true\n'
        + extra
        + tables
    )


@pytest.fixture
def server():
    with feed_server() as running:
        yield running


def follower_for(tmp_path, *follows: str):
    site = make_site(tmp_path, config=config(*follows))
    store = Store(site.store_url)
    return site, store, Follower(Fetcher(site, store))


def posts_in(site, folder: str = "follow") -> dict[str, dict]:
    """The front matter of each post written under content/<folder>/, by path."""
    root = site.content_dir
    return {
        str(p.relative_to(root)): front_matter(p.read_text())[0]
        for p in sorted((root / folder).rglob("*.md"))
    }


def test_a_first_poll_writes_the_backfill_with_attribution_and_notes_the_older(server, tmp_path):
    url = server.set(
        "/feed",
        rss("Community Care", HOME, [article(3, 1), article(2, 3), article(1, 30)]),
        etag='"v1"',
    )
    site, store, follower = follower_for(tmp_path, f'url = "{url}"\ntags = ["practice"]')
    try:
        [report] = follower.poll(NOW)
        assert (len(report.written), report.passed_over, report.error) == (2, 1, "")
        posts = posts_in(site)
        assert len(posts) == 2
        path = "follow/community-care/2026-12-01-thresholds-report-3.md"
        meta = posts[path]
        assert meta["title"] == "Thresholds report 3"
        assert meta["source"] == "Community Care"  # the feed's title: no name configured
        assert meta["author"] == "Jane Doe"
        assert meta["source_url"] == "https://www.example.org/news/3"  # tracking removed
        assert meta["date"] == NOW - DAY
        assert meta["tags"] == ["practice"]
        assert "phones open" in (site.content_dir / path).read_text()
        asked = server.asked("/feed")[0]
        assert asked["user-agent"].startswith("postroom/")
        assert "notes.example.org" in asked["user-agent"]
    finally:
        store.close()


def test_nothing_is_picked_up_twice_whatever_the_feed_does_next(server, tmp_path):
    items = [article(2, 1), article(1, 2)]
    url = server.set("/feed", rss("Community Care", HOME, items), etag='"v1"')
    site, store, follower = follower_for(tmp_path, f'url = "{url}"')
    try:
        assert len(follower.poll(NOW)[0].written) == 2
        later = NOW + timedelta(hours=2)
        [unchanged] = follower.poll(later)  # a conditional GET: 304
        assert unchanged.unchanged and not unchanged.written
        assert server.asked("/feed")[-1]["if-none-match"] == '"v1"'
        # reordered, then every id rewritten with the links kept: nothing new
        server.set("/feed", rss("Community Care", HOME, items[::-1]), etag='"v2"')
        assert follower.poll(later + timedelta(hours=2))[0].written == ()
        renamed = [
            article(2, 1, guid="tag:moved:2"),
            article(1, 2, guid="tag:moved:1"),
        ]
        server.set("/feed", rss("Community Care", HOME, renamed), etag='"v3"')
        assert follower.poll(later + timedelta(hours=4))[0].written == ()
        # a restart: a new process, a new store connection, the same memory
        store.close()
        store = Store(site.store_url)
        again = Follower(Fetcher(open_site(site.root), store))
        server.set("/feed", rss("Community Care", HOME, [article(4, 0), *renamed]), etag='"v4"')
        [report] = again.poll(later + timedelta(hours=6))
        assert [p.rsplit("/", 1)[1] for p in report.written] == [
            "2026-12-02-thresholds-report-4.md"
        ]
        assert len(posts_in(site)) == 3
    finally:
        store.close()


def test_a_feed_that_fails_backs_off_and_says_why_and_the_others_go_on(server, tmp_path):
    busy = server.set(
        "/busy", "slow down", kind="text/plain", status=429, headers={"Retry-After": "7200"}
    )
    broken = server.set("/broken", "Fatal error: database unavailable", kind="application/xml")
    html = server.set("/html", "<!doctype html><html><body>Hello</body></html>", kind=PAGE)
    good = server.set("/good", rss("Good", HOME, [article(1, 1)]))
    follows = [f'url = "{u}"\nname = "{n}"' for u, n in ((busy, "Busy"), (broken, "Broken"))]
    follows += [f'url = "{html}"\nname = "Html"', f'url = "{good}"\nname = "Good"']
    site, store, follower = follower_for(tmp_path, *follows)
    try:
        reports = {r.name: r for r in follower.poll(NOW)}
        assert len(reports["Good"].written) == 1
        assert "429" in reports["Busy"].error and "7200" in reports["Busy"].error
        assert reports["Broken"].error and reports["Html"].error
        assert "HTML" in reports["Html"].error
        known = targets(store, TargetKind.FEED)
        assert datetime.fromisoformat(known[busy].next_try) >= NOW + timedelta(seconds=7200)
        assert known[busy].failures == 1
        retried = follower.poll(NOW + timedelta(minutes=90))  # the others are due again
        assert "Busy" not in {r.name for r in retried}
        status = json.loads(postroom(site.root, "status", "--json").stdout)
        by_name = {f["name"]: f for f in status["follows"]}
        assert set(by_name["Busy"]) == {
            "url",
            "name",
            "last_ok",
            "last_error",
            "next_poll",
            "entries_seen",
        }
        assert by_name["Busy"]["last_ok"] is None and "429" in by_name["Busy"]["last_error"]
        assert by_name["Good"]["last_error"] is None and by_name["Good"]["entries_seen"] == 1
        checked = postroom(site.root, "check")
        assert "[[follow]] Broken" in checked.stdout
    finally:
        store.close()


@pytest.mark.once
def test_include_and_exclude_pick_what_is_picked_up(server, tmp_path):
    items = [
        Item("Care review published", "https://e.org/a", NOW, "a", text="The care review."),
        Item("Football results", "https://e.org/b", NOW, "b", text="Sport."),
        Item("Care jobs advert", "https://e.org/c", NOW, "c", text="Sponsored."),
    ]
    url = server.set("/feed", rss("Mixed", HOME, items))
    site, store, follower = follower_for(
        tmp_path, f'url = "{url}"\ninclude = ["care"]\nexclude = ["sponsored"]'
    )
    try:
        [report] = follower.poll(NOW)
        assert report.filtered == 2
        assert [m["title"] for m in posts_in(site).values()] == ["Care review published"]
    finally:
        store.close()


@pytest.mark.once
def test_full_text_reads_each_entrys_page(server, tmp_path):
    body = "Managers said the rota held through the coldest week of the year. " * 10
    page = f"""<html><head><title>The rota held</title>
<meta property="og:url" content="{server.url}/story"></head>
<body><article><h1>The rota held</h1><p>{body}</p></article></body></html>"""
    server.set("/story", page, kind=PAGE)
    summary = Item("The rota held", f"{server.url}/story", NOW - DAY, "s1", text="Short.")
    url = server.set("/feed", rss("Rota news", HOME, [summary]))
    site, store, follower = follower_for(tmp_path, f'url = "{url}"\nfull_text = true')
    try:
        [report] = follower.poll(NOW)
        [path] = report.written
        text = (site.content_dir / path).read_text()
        assert "coldest week" in text and "Short." not in text
    finally:
        store.close()


def test_an_article_added_by_hand_is_not_written_again_by_its_feed(server, tmp_path):
    story = "The duty team kept the phones open all through the snow and the ice. " * 10
    page = f"""<html><head><title>Snow duty</title>
<meta property="og:url" content="{server.url}/snow"></head>
<body><article><h1>Snow duty</h1><p>{story}</p></article></body></html>"""
    server.set("/snow", page, kind=PAGE)
    site = make_site(tmp_path, config=config())
    added = postroom(site.root, "add", f"{server.url}/snow?utm_source=twitter")
    assert added.returncode == 0, added.stderr
    url = server.set("/feed", rss("Snow", HOME, [Item("Snow duty", f"{server.url}/snow", NOW)]))
    (site.root / "postroom.toml").write_text(config(f'url = "{url}"'))
    store = Store(site.store_url)
    try:
        [report] = Follower(Fetcher(open_site(site.root), store)).poll(NOW)
        assert report.written == () and report.error == ""
        assert not (site.content_dir / "follow").exists()
    finally:
        store.close()


@pytest.mark.nostore
def test_feeds_are_spread_over_their_interval_and_back_off_when_failing():
    hour = timedelta(hours=1)
    urls = [f"https://feeds.example.org/{n}.xml" for n in range(200)]
    minutes = sorted(int(phase(u) * 60) for u in urls)
    assert len(set(minutes)) > 40  # not all at one moment
    for u in urls[:20]:
        at = next_poll(u, hour, NOW)
        assert hour / 2 <= at - NOW <= hour * 1.5
        assert next_poll(u, hour, at) - at == hour  # the same phase every time
    waits = [backoff(2 * hour, n) for n in range(1, 8)]
    assert waits[:4] == [2 * hour, 4 * hour, 8 * hour, 16 * hour]
    assert max(waits) == timedelta(days=1)
    assert backoff(hour, 1, retry_after=3 * 3600) == 3 * hour


@pytest.mark.nostore
@pytest.mark.parametrize(
    ("table", "why"),
    [
        ('url = "ftp://x.org/feed"', "'url' must be an http(s) URL"),
        ('url = "https://x.org/f"\ncolour = "red"', "unknown key 'follow.colour'"),
        ('url = "https://x.org/f"\ntags = "policy"', "'tags' must be a list of strings"),
        ('url = "https://x.org/f"\npoll_minutes = 0', "'poll_minutes' must be from"),
        ('url = "https://x.org/f"\nfull_text = "yes"', "'follow.full_text' must be bool"),
    ],
)
def test_a_bad_follow_table_is_named_with_why(tmp_path, table, why):
    with pytest.raises(ConfigError, match="follow") as caught:
        make_site(tmp_path, config=config(table))
    assert why in str(caught.value) and "#1" in str(caught.value)


@pytest.mark.nostore
def test_the_same_feed_followed_twice_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="followed twice"):
        make_site(tmp_path, config=config('url = "https://x.org/f"', 'url = "https://x.org/f"'))


def test_listed_links_are_fetched_once_retried_with_backoff_and_said_in_check(server, tmp_path):
    story = "Foster carers described the winter in their own words, week by week. " * 10
    good = f"""<html><head><title>Winter words</title><meta name="author" content="Sam Lee">
</head><body><article><h1>Winter words</h1><p>{story}</p></article></body></html>"""
    server.set("/winter", good, kind=PAGE)
    listing = (
        "# links from my phone\n"
        f"{server.url}/winter?utm_campaign=x\n"
        "\n"
        f"{server.url}/later\n"
        "not a link at all\n"
    )
    shortcut = f"[InternetShortcut]\r\nURL={server.url}/shortcut\r\nIconIndex=0\r\n"
    site = make_site(tmp_path, {"inbox/links.txt": listing, "saved.url": shortcut}, config())
    store = Store(site.store_url)
    try:
        fetcher = Fetcher(site, store)
        reports, problems = fetch_links(fetcher, NOW)
        by_url = {r.url: r for r in reports}
        assert by_url[f"{server.url}/winter"].written.startswith("links/")
        assert "404" in by_url[f"{server.url}/later"].error
        assert "404" in by_url[f"{server.url}/shortcut"].error
        assert [p.reason for p in problems] == ["line 5 is not an http(s) link: not a link at all"]
        checked = postroom(site.root, "check")
        assert "inbox/links.txt" in checked.stdout and "HTTP 404" in checked.stdout
        assert "tried once" in checked.stdout
        assert "links.txt is" not in checked.stdout  # the list is no post of its own
        posts = json.loads(postroom(site.root, "check", "--json").stdout)["posts"]
        assert [p["title"] for p in posts] == ["Winter words"]
        # not before its backoff; then it works once the page is there
        server.set("/later", good.replace("Winter words", "Later words"), kind=PAGE)
        assert fetch_links(fetcher, NOW + timedelta(seconds=30))[0] == []
        reports, _ = fetch_links(fetcher, NOW + timedelta(minutes=2))
        assert {r.url for r in reports if r.written} == {f"{server.url}/later"}
        reports, _ = fetch_links(fetcher, NOW + timedelta(hours=1))
        assert [r.url for r in reports] == [f"{server.url}/shortcut"]  # still missing
        assert len(list((site.content_dir / "links").glob("*.md"))) == 2
    finally:
        store.close()


@pytest.mark.once
def test_follow_list_and_check_say_how_each_feed_stands(server, tmp_path):
    url = server.set("/feed", rss("Community Care", HOME, [article(1, 1), article(2, 2)]))
    gone = f"{server.url}/gone"
    site = make_site(tmp_path, config=config(f'url = "{url}"', f'url = "{gone}"\nname = "Gone"'))
    checked = postroom(site.root, "follow", "check")
    assert checked.returncode == 1
    assert "ok      Community Care: rss20, 2 entries, 2 new" in checked.stdout
    assert "error   Gone:" in checked.stdout and "404" in checked.stdout
    assert not (site.content_dir / "follow").exists()  # check writes nothing
    listed = json.loads(postroom(site.root, "follow", "list", "--json").stdout)
    assert [(f["name"], f["last_ok"], f["entries_seen"]) for f in listed] == [
        ("127.0.0.1", None, 0),
        ("Gone", None, 0),
    ]
    text = postroom(site.root, "follow", "list").stdout
    assert "last fetched: never" in text


def test_the_service_publishes_a_feeds_new_entries_within_one_poll(server, tmp_path):
    """End to end: a followed feed gains two entries; the running service writes them,
    scans them and puts them into atom.xml, and the next digest holds them."""
    url = server.set("/feed", rss("Community Care", HOME, [article(1, 1)]), etag='"v1"')
    follow = f'url = "{url}"\npoll_minutes = 0.05\nbackfill_days = 0'
    site = make_site(
        tmp_path,
        {"mine.md": "---\ntitle: My own note\ndate: 2026-11-30\n---\nA note.\n"},
        config(follow, extra="[service]\nquiet_seconds = 0\n"),
    )
    atom = site.public_dir / "atom.xml"
    with Service(site.root) as service:
        service.wait_for(lambda e: e["event"] == "build")
        wait_until(lambda: server.asked("/feed"), 20, "the feed's first poll")
        assert "Thresholds report 1" not in atom.read_text()  # older than the backfill: 0
        items = [article(3, 0), article(2, 0), article(1, 1)]
        server.set("/feed", rss("Community Care", HOME, items), etag='"v2"')
        service.wait_for(lambda e: e["event"] == "follow" and len(e.get("new", [])) == 2, 20)
        wait_until(lambda: "Thresholds report 3" in atom.read_text(), 20, "the entries in atom.xml")
        assert "Thresholds report 2" in atom.read_text()
        code, _ = service.terminate()
    assert code == 0
    preview = postroom(site.root, "digest", "preview")
    assert preview.returncode == 0, preview.stderr
    text = (site.root / "preview" / "digest.txt").read_text()
    assert "Thresholds report 3" in text and "Thresholds report 2" in text
    assert "Community Care" in text and "Jane Doe" in text


@pytest.mark.once
def test_a_links_file_that_leads_out_of_the_content_folder_is_not_read(tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("https://private.example.org/do-not-read\nroot:x:0:0\n")
    site = make_site(tmp_path / "site", config=config())
    (site.content_dir / "links.txt").symlink_to(secret)
    checked = postroom(site.root, "check")
    assert "links.txt: cannot be read: a link to a file outside the content folder" in (
        checked.stdout
    )
    assert "root:x" not in checked.stdout and "do-not-read" not in checked.stdout


@pytest.mark.once
def test_the_service_stops_at_once_while_a_feed_keeps_it_waiting(server, tmp_path):
    """A followed feed that never answers (within the 10 s read timeout) does not hold up
    a SIGTERM: the follow job leaves the fetch to its own thread and returns."""
    hold = threading.Event()
    url = server.set("/stuck", rss("Stuck", HOME, [article(1, 1)]), hold=hold)
    site = make_site(tmp_path, config=config(f'url = "{url}"'))
    try:
        with Service(site.root) as service:
            service.wait_for(lambda e: e["event"] == "build")
            wait_until(lambda: server.asked("/stuck"), 20, "the stuck feed's poll")
            code, took = service.terminate()
        assert code == 0 and took < 5, f"{took:.1f} s"
        assert "did not stop in time" not in json.dumps(service.events)
    finally:
        hold.set()


# --- defects found at review, each with its test ---


@pytest.mark.once
def test_a_fetch_that_raises_anything_or_never_ends_is_that_items_error(server, tmp_path):
    """A get that raises what no one expected (a bad redirect's ValueError, say) and one
    that never answers are each their own item's error; the others' answers still come."""
    hold = threading.Event()
    server.set("/stuck", "x", hold=hold)
    server.set("/fine", rss("Fine", HOME, []))
    site = make_site(tmp_path, config=config())
    store = Store(site.store_url)
    fetcher = Fetcher(site, store)
    fetcher.answer_seconds = 1.0

    def get(path: str):
        if path == "/boom":
            raise ValueError("Invalid IPv6 URL")
        return fetcher.fetch(server.url + path)

    try:
        answers = dict(fetcher.side_by_side(["/boom", "/stuck", "/fine"], str, get))
        assert answers["/fine"].status == 200
        assert "ValueError: Invalid IPv6 URL" in str(answers["/boom"])
        assert "no whole answer within 1 s" in str(answers["/stuck"])
    finally:
        hold.set()
        store.close()


@pytest.mark.nostore
def test_a_backoff_after_years_of_failures_is_a_day_not_an_overflow():
    assert backoff(timedelta(hours=2), 35) == timedelta(days=1)
    assert backoff(timedelta(minutes=1), 10_000) == timedelta(days=1)


@pytest.mark.once
def test_one_feeds_surprise_is_its_own_error_and_the_rest_go_on(server, tmp_path):
    """A JSON Feed dated before year 1 in UTC, a page in a charset nobody knows, a link
    that is no URL: each is read as well as it can be or said, never the job's end."""
    ancient = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Ancient",
        "items": [
            {
                "id": "1",
                "url": "https://e.org/old",
                "title": "Old",
                "content_text": "x",
                "date_published": "0001-01-01T00:00:00+01:00",
            }
        ],
    }
    old = server.set("/ancient", json.dumps(ancient), kind="application/feed+json")
    good = server.set("/good", rss("Good", HOME, [article(1, 1)]))
    body = "A page in a charset nobody has heard of. " * 20
    page = f"<html><head><title>Odd charset</title></head><body><p>{body}</p></body></html>"
    server.set("/odd", page, kind="text/html; charset=x-unknown")
    listing = f"http://a]b/\n{server.url}/odd\n"
    site = make_site(tmp_path, {"links.txt": listing}, config(f'url = "{old}"', f'url = "{good}"'))
    store = Store(site.store_url)
    try:
        reports = {r.name: r for r in Follower(Fetcher(site, store)).poll(NOW)}
        assert reports["Good"].written and not reports["Ancient"].error
        links, problems = fetch_links(Fetcher(site, store), NOW)
        assert [link.written.startswith("links/") for link in links] == [True]
        assert [p.reason for p in problems] == ["line 1 is not an http(s) link: http://a]b/"]
        assert postroom(site.root, "check").returncode == 0
    finally:
        store.close()


def test_long_validators_ids_and_links_are_kept_on_every_database(server, tmp_path):
    """PostgreSQL refuses what SQLite keeps: a long Last-Modified, a 2,000-character id,
    a link-less entry whose id is 950 CJK characters (2,850 bytes, past an index entry's
    limit). Each entry is written once, however often the feed is polled."""
    items = [
        Item("Long id", "https://e.org/long", NOW, guid="g" * 2000),
        Item("CJK id", "", NOW, guid="漢" * 950),
    ]
    url = server.set(
        "/feed", rss("Long", HOME, items), headers={"Last-Modified": "Mon, " + "x" * 300}
    )
    site, store, follower = follower_for(tmp_path, f'url = "{url}"')
    try:
        assert len(follower.poll(NOW)[0].written) == 2
        [again] = follower.poll(NOW + timedelta(hours=2))
        assert again.written == () and again.error == ""
        assert len(posts_in(site)) == 2
    finally:
        store.close()


def test_an_article_saved_as_a_post_or_listed_twice_in_a_feed_is_one_post(server, tmp_path):
    saved = "---\ntitle: Budget cuts\ndate: 2026-11-30\nsource_url: https://e.org/budget\n---\nx\n"
    items = [
        Item("Budget cuts", "https://e.org/budget?utm_source=rss", NOW, "b1"),
        Item("Rota (updated)", "https://e.org/rota", NOW, "r2"),
        Item("Rota", "https://e.org/rota", NOW - timedelta(hours=1), "r1"),
    ]
    url = server.set("/feed", rss("Dupes", HOME, items))
    site = make_site(tmp_path, {"saved.md": saved}, config(f'url = "{url}"'))
    assert postroom(site.root, "check").returncode == 0  # the saved post is in the store
    store = Store(site.store_url)
    try:
        [report] = Follower(Fetcher(site, store)).poll(NOW)
        assert [m["title"] for m in posts_in(site).values()] == ["Rota"]
        assert len(report.written) == 1
    finally:
        store.close()


def test_an_article_another_process_wrote_first_is_not_written_again(server, tmp_path):
    site = make_site(tmp_path, config=config())
    store = Store(site.store_url)
    try:
        fetcher = Fetcher(site, store)
        remember(store, NOW, link="https://e.org/a", path="links/theirs.md")  # `add`, say
        written = fetcher.write_once(
            "follow/x/2026-12-02-a.md",
            lambda _path: "---\ntitle: A\nsource_url: https://e.org/a\n---\nx\n",
            lambda meta: meta.get("source_url") == "https://e.org/a",
            remember_written(store, NOW, "https://e.org/a"),
        )
        assert written == "" and not list(site.content_dir.rglob("*.md"))
    finally:
        store.close()


@pytest.mark.once
def test_full_text_pages_that_all_name_the_front_page_are_each_their_own(server, tmp_path):
    body = "Each story has words of its own, told at length for the reader. " * 10
    for slug in ("alpha", "beta"):
        page = f"""<html><head><title>{slug}</title>
<meta property="og:url" content="{server.url}/"></head>
<body><article><h1>{slug}</h1><p>{slug} {body}</p></article></body></html>"""
        server.set(f"/{slug}", page, kind=PAGE)
    items = [Item(s, f"{server.url}/{s}", NOW, s) for s in ("beta", "alpha")]
    url = server.set("/feed", rss("Same og", HOME, items))
    _, store, follower = follower_for(tmp_path, f'url = "{url}"\nfull_text = true')
    try:
        assert len(follower.poll(NOW)[0].written) == 2
    finally:
        store.close()


def test_a_listed_link_a_feed_passed_over_is_still_fetched(server, tmp_path):
    body = "The listed article, wanted by the curator, long enough to be read. " * 10
    page = f"<html><head><title>Wanted</title></head><body><p>{body}</p></body></html>"
    link = server.set("/wanted", page, kind=PAGE)
    url = server.set("/feed", rss("Old", HOME, [Item("Wanted", link, NOW - 30 * DAY, "w")]))
    site = make_site(tmp_path, {"links.txt": link + "\n"}, config(f'url = "{url}"'))
    store = Store(site.store_url)
    try:
        fetcher = Fetcher(site, store)
        assert Follower(fetcher).poll(NOW)[0].passed_over == 1
        links, _ = fetch_links(fetcher, NOW)
        assert [r.written.startswith("links/") for r in links] == [True]
    finally:
        store.close()


@pytest.mark.once
def test_a_flood_of_new_entries_is_capped_per_poll_and_said(server, tmp_path):
    items = [article(n, 0) for n in range(120)]
    url = server.set("/feed", rss("Flood", HOME, items))
    said: list[str] = []
    site = make_site(tmp_path, config=config(f'url = "{url}"'))
    store = Store(site.store_url)
    try:
        [report] = Follower(Fetcher(site, store), said.append).poll(NOW)
        assert (len(report.written), report.flooded) == (MAX_NEW_PER_POLL, 70)
        assert "70 more new entries" in said[0]
        titles = {m["title"] for m in posts_in(site).values()}
        assert titles == {f"Thresholds report {n}" for n in range(MAX_NEW_PER_POLL)}  # newest
    finally:
        store.close()


@pytest.mark.once
def test_a_stop_part_way_through_a_poll_leaves_the_rest_for_the_next(server, tmp_path):
    """Stopped while an entry's page is fetched: the entry is not written with its
    summary, and the feed's validators are not saved (the next poll reads it whole)."""
    hold = threading.Event()
    server.set("/page", "<html><body>x</body></html>", kind=PAGE, hold=hold)
    url = server.set(
        "/feed", rss("Stop", HOME, [Item("P", f"{server.url}/page", NOW, "p")]), etag='"v1"'
    )
    site, store, follower = follower_for(tmp_path, f'url = "{url}"\nfull_text = true')
    try:
        polling = threading.Thread(target=lambda: follower.poll(NOW))
        polling.start()
        wait_until(lambda: server.asked("/page"), 10, "the entry's page asked for")
        follower.fetcher.stop.set()
        polling.join(5)
        assert not polling.is_alive()
        assert not (site.content_dir / "follow").exists()
        assert targets(store, TargetKind.FEED)[url].etag == ""
    finally:
        hold.set()
        store.close()


@pytest.mark.nostore
def test_a_follow_url_that_does_not_parse_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'url' must be an http"):
        make_site(tmp_path, config=config('url = "http://a]b/"'))


# --- defects found by the curator's pass, each with its test ---


def test_articles_of_one_title_and_day_are_each_a_post_of_their_own(server, tmp_path):
    """No link (or one to the front page, or javascript:) and one title, or one title
    and two links: each entry is its own file and its own post, never written over."""
    items = [
        Item("Note", "", NOW, "note-1", text="First."),
        Item("Note", HOME, NOW - timedelta(minutes=5), "note-2", text="Second."),
        Item("Note", "javascript:void(0)", NOW - timedelta(minutes=9), "note-3", text="Third."),
        Item("Same title", "https://e.org/same1", NOW, "s1", text="one"),
        Item("Same title", "https://e.org/same2", NOW, "s2", text="two"),
    ]
    url = server.set("/feed", rss("Notes", HOME, items))
    site = make_site(tmp_path, config=config(f'url = "{url}"'))
    store = Store(site.store_url)
    try:
        [report] = Follower(Fetcher(site, store)).poll(NOW)
        assert len(report.written) == 5 and len(posts_in(site)) == 5
    finally:
        store.close()
    posts = json.loads(postroom(site.root, "check", "--json").stdout)["posts"]
    assert sorted(p["title"] for p in posts) == ["Note"] * 3 + ["Same title"] * 2


@pytest.mark.once
def test_an_entry_with_a_title_and_a_link_only_is_a_link_post(server, tmp_path):
    item = Item("Title only", "https://e.org/t", NOW, "t", text="")
    url = server.set(
        "/feed",
        rss("Bare", HOME, [item]).replace("<description>&lt;p&gt;&lt;/p&gt;</description>", ""),
    )
    site, store, follower = follower_for(tmp_path, f'url = "{url}"')
    try:
        [path] = follower.poll(NOW)[0].written
    finally:
        store.close()
    assert "Read it at [Bare](<https://e.org/t>)." in (site.content_dir / path).read_text()
    checked = json.loads(postroom(site.root, "check", "--json").stdout)
    assert [p["title"] for p in checked["posts"]] == ["Title only"]
    assert checked["problems"] == []


@pytest.mark.once
def test_an_entry_dated_years_ahead_is_dated_when_it_was_picked_up(server, tmp_path):
    ahead = Item("Future", "https://e.org/future", NOW + timedelta(days=3650), "f")
    url = server.set("/feed", rss("Ahead", HOME, [ahead]))
    site, store, follower = follower_for(tmp_path, f'url = "{url}"')
    try:
        follower.poll(NOW)
        [meta] = posts_in(site).values()
        assert meta["date"] == NOW
    finally:
        store.close()


def test_one_id_twice_in_a_feed_is_one_entry(server, tmp_path):
    items = [
        Item("Dup id A", "https://e.org/a", NOW, "same"),
        Item("Dup id B", "https://e.org/b", NOW, "same"),
    ]
    url = server.set("/feed", rss("Dup", HOME, items))
    _, store, follower = follower_for(tmp_path, f'url = "{url}"')
    try:
        assert len(follower.poll(NOW)[0].written) == 1
    finally:
        store.close()


@pytest.mark.once
def test_a_binary_links_file_is_a_few_warnings_not_one_a_line(tmp_path):
    noise = bytes(range(256)) * 40 + b"\n".join(b"junk %d" % n for n in range(200))
    site = make_site(tmp_path, {"saved.url": noise}, config())
    store = Store(site.store_url)
    try:
        _, problems = fetch_links(Fetcher(site, store), NOW)
    finally:
        store.close()
    assert len(problems) == 6 and problems[-1].reason.endswith("more lines that are not links")


@pytest.mark.nostore
def test_the_same_feed_in_other_capitals_is_followed_twice(tmp_path):
    with pytest.raises(ConfigError, match="followed twice"):
        make_site(tmp_path, config=config('url = "http://a.org/f"', 'url = "HTTP://A.ORG/f"'))
