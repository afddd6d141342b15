from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import fresh_database, on_postgresql
from postroom.core.config import DATABASE_URL_ENV
from seeds_support import seeds_folder, seeds_summary
from support import make_site

# The seed acceptance runs on the curator's real captures: $POSTROOM_SEEDS, else
# ../shared/seeds beside the repository; the summary says where, or why it did not run.
collect_ignore = [] if seeds_folder()[0] else ["test_seeds.py"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(seeds_summary(terminalreporter.stats))


@pytest.fixture(autouse=True)
def _store_database(request, monkeypatch):
    """On the PostgreSQL pass, every site in the test (and every postroom process it
    starts) uses a new database of its own; otherwise each site's SQLite file. Tests
    marked `nostore` (readers of text, with no site) get none: making a database for
    each of several hundred of them would add minutes to the pass."""
    if not on_postgresql() or request.node.get_closest_marker("nostore"):
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
        yield
        return
    with fresh_database() as url:
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        yield


@pytest.fixture
def pg_url():
    """A new PostgreSQL database for a test that needs PostgreSQL on either pass."""
    with fresh_database() as url:
        yield url


# --- feeds and pages (tests/test_feeds.py, tests/test_pages.py) ---


@pytest.fixture
def feed_site(tmp_path):
    """A site whose feeds hold 3 posts, so tests can push posts out of the window."""
    return make_site(
        tmp_path,
        config='[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
        "[feed]\nwindow = 3\n",
    )


# --- the browser (tests/test_browser.py, test_serve.py, test_digest_design.py) ---

CHROMIUM = "/usr/bin/chromium"
# Headless as root, and nothing that reaches for Google's hosts.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """One headless Chromium for the module (the Debian package; Playwright downloads none)."""
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package"
            " (apt-get install chromium; tests/setup installs it)",
            pytrace=False,
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
