"""`postroom add URL` against pages served on 127.0.0.1 (issue 16): the post written into
content/ with the page's attribution, the canonical URL without tracking parameters, one
post however often it is added, --dry-run, and clear one-line refusals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from service_support import postroom
from support import make_site

BODY = "Duty teams kept the phones open through the snow, and wrote down who called. " * 12
ARTICLE = f"""<!doctype html><html lang="en"><head>
<title>Thresholds matter | Community Care</title>
<meta property="og:title" content="Thresholds matter">
<meta property="og:site_name" content="Community Care">
<meta property="og:url" content="https://www.example.org/news/thresholds-matter?utm_source=feed">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
</head><body><nav>Home | News | Jobs</nav><article><h1>Thresholds matter</h1>
<p>{BODY}</p><p>Managers said the rota held.</p></article>
<footer>Cookie settings. Share this.</footer></body></html>"""
BARE = f"<html><body><article><p>{BODY}</p></article></body></html>"
LINKED_DATA = f"""<!doctype html><html><head><title>Kinship care review</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Kinship care review", "datePublished": "2026-11-18T09:30:00Z",
"author": {{"@type": "Person", "name": "Priya Shah"}},
"publisher": {{"@type": "Organization", "name": "Practice Weekly"}}}}</script>
</head><body><article><h1>Kinship care review</h1><p>{BODY}</p></article></body></html>"""
HOME_A = f"<html><head><title>Home</title></head><body><p>First. {BODY}</p></body></html>"
HOME_B = f"<html><head><title>Home</title></head><body><p>Second. {BODY}</p></body></html>"
ROUTES = {
    "/article": ("text/html; charset=utf-8", ARTICLE),
    "/home-a": ("text/html; charset=utf-8", HOME_A),
    "/linked-data": ("text/html; charset=utf-8", LINKED_DATA),
    "/home-b": ("text/html; charset=utf-8", HOME_B),
    "/bare": ("text/html; charset=utf-8", BARE),
    "/feed": ("application/rss+xml", "<rss version='2.0'><channel/></rss>"),
}


class Pages(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        kind, text = ROUTES.get(self.path.split("?")[0], ("text/plain", "not here"))
        body = text.encode()
        self.send_response(200 if self.path.split("?")[0] in ROUTES else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, config='[site]\nbase_url = "https://notes.example.org/"\n'
                     "[fetch]\nallow_private = true\n")  # fmt: skip


def check_json(site) -> dict:
    done = postroom(site.root, "check", "--json")
    return json.loads(done.stdout)


@pytest.mark.once
def test_a_link_becomes_a_post_with_the_pages_attribution(site, pages):
    done = postroom(site.root, "add", f"{pages}/article?utm_source=x&fbclid=y", "--tag", "duty",
                    "--comment", "Worth it for the rota.")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Thresholds matter" in done.stdout and "source: Community Care" in done.stdout
    [written] = (site.content_dir / "links").glob("*.md")
    assert written.name == "2026-11-20-thresholds-matter.md"
    [post] = check_json(site)["posts"]
    assert post["title"] == "Thresholds matter" and post["date"].startswith("2026-11-20")
    assert (post["author"], post["source"]) == ("Jane Doe", "Community Care")
    assert post["source_url"] == "https://www.example.org/news/thresholds-matter"  # canonical
    assert post["tags"] == ["duty"] and "Duty teams kept the phones open" in post["body_start"]
    assert "Cookie settings" not in written.read_text() and "Home | News" not in written.read_text()
    assert "comment: Worth it for the rota." in written.read_text()


def test_the_same_article_added_again_is_one_post(site, pages):
    assert postroom(site.root, "add", f"{pages}/article").returncode == 0
    again = postroom(site.root, "add", f"{pages}/article?utm_medium=email")
    assert again.returncode == 0 and "already added" in again.stdout
    postroom(site.root, "check")  # picked up: the store knows it now
    third = postroom(site.root, "add", f"{pages}/article")
    assert third.returncode == 0 and "already a post: Thresholds matter" in third.stdout
    assert len(list((site.content_dir / "links").glob("*.md"))) == 1


@pytest.mark.once
def test_dry_run_says_what_it_found_and_what_it_did_not_and_writes_nothing(site, pages):
    done = postroom(site.root, "add", "--dry-run", f"{pages}/bare")
    assert done.returncode == 0, done.stderr
    assert "no date: dated when first picked up" in done.stdout and "no author" in done.stdout
    assert "not written" in done.stdout and not (site.content_dir / "links").exists()


@pytest.mark.once
@pytest.mark.parametrize(
    ("path", "why"),
    [("/missing", "HTTP 404"), ("/feed", "application/rss+xml, not a page")],
)
def test_what_cannot_be_added_is_one_line_and_exit_1(site, pages, path, why):
    done = postroom(site.root, "add", f"{pages}{path}")
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("postroom: not added: ") and why in line


@pytest.mark.once
def test_a_private_address_is_refused_unless_the_site_allows_it(tmp_path, pages):
    site = make_site(tmp_path, config='[site]\nbase_url = "https://notes.example.org/"\n')
    done = postroom(site.root, "add", f"{pages}/article")
    assert done.returncode == 1 and "a private address: not fetched" in done.stderr
    assert "fetch.allow_private" in done.stderr


def test_two_articles_of_one_title_are_two_posts(site, pages):
    """Pages that share a title (every page of a site titled "Home") are each added,
    the second beside the first, and picked up as posts of their own."""
    assert postroom(site.root, "add", f"{pages}/home-a").returncode == 0
    second = postroom(site.root, "add", f"{pages}/home-b")
    assert second.returncode == 0 and "added: links/" in second.stdout
    assert "-home-2.md" in second.stdout
    posts = check_json(site)["posts"]
    assert sorted(p["body_start"][:6] for p in posts) == ["First.", "Second"]


@pytest.mark.once
def test_a_password_in_a_url_is_used_and_never_kept(site, pages):
    with_password = pages.replace("http://", "http://curator:s3cret@") + "/article#comments"
    added = postroom(site.root, "add", with_password)
    assert added.returncode == 0, added.stderr
    [path] = (site.content_dir / "links").glob("*.md")
    text = path.read_text()
    assert "s3cret" not in text and "#comments" not in text
    assert "s3cret" not in added.stdout


@pytest.mark.once
def test_a_page_with_json_ld_only_gives_its_author_date_and_publication(site, pages):
    added = postroom(site.root, "add", f"{pages}/linked-data", "--dry-run")
    assert added.returncode == 0, added.stderr
    assert "by: Priya Shah" in added.stdout
    assert "published: 2026-11-18" in added.stdout
    assert "source: Practice Weekly" in added.stdout
