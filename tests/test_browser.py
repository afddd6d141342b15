"""The site in a real browser: Debian's headless Chromium, driven by Playwright for Python,
against `postroom serve` on 127.0.0.1, its mail written by the files transport (a site
whose base_url is this machine may not send through smtp: core.config).

Subscribe on the index, confirm from the emailed link, get a digest, leave from its
unsubscribe link, with the store checked at every step; the same without JavaScript;
and every page at 375 px and 1280 px wide, screenshotted and with no sideways scrolling.
Screenshots go to the test's tmp_path, and also to $POSTROOM_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from postroom.emails.confirm import confirm_url
from postroom.emails.tokens import Purpose, make_token
from postroom.scheduler import main
from postroom.store.subscribers import Status, SubscriberList
from web_support import SECRET, Served, confirmation_mail, parse, screenshot_width, serving

WIDTHS = {375: 812, 1280: 800}  # width: height
ADDRESS = "reader@example.org"

LONG_URL = "https://www.example.org/report?id=" + "0f3c9a7be41d5286" * 16  # no hyphen to break at
WORD = "Kinderschutzfachkraftberatungsstellenkoordinationsausschuss"
LONG_WORD = WORD * 3
LONG_TITLE = f"The {WORD} report, a link that will not break"
POSTS = {
    "p0.md": f"""---
title: {LONG_TITLE}
date: 2016-06-21
source: Example Care Weekly
source_url: https://www.example.org/original
---
The report is at {LONG_URL} and nowhere else.

Its authors call this a {LONG_WORD}.
""",
    "p1.md": """---
title: Caseloads by team, in one wide table
date: 2016-06-22
---
Twelve teams, twelve columns.

| Team | Jan | Feb | Mar | Apr | May | Jun | Jul | Aug | Sep | Oct | Nov | Dec |
|------|-----|-----|-----|-----|-----|-----|-----|-----|-----|-----|-----|-----|
"""
    + "| Duty and assessment north | "
    + " | ".join(f"{n * 7:>5} cases" for n in range(12))
    + " |\n\n```\n"
    + "caseload_report --team=duty-and-assessment-north --from=2016-01-01 --to=2016-12-31"
    + " --format=wide --columns=jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec\n```\n",
    "p2.md": """---
title: What duty teams know
date: 2016-06-23
author: Mark Rogers
author_role: chief executive
---
Duty teams kept the phones open through the snow. Nobody wrote a framework for that.
""",
}


def status_of(served: Served, address: str) -> Status | None:
    subscriber = SubscriberList(served.store).find(address)
    return subscriber.status if subscriber else None


def heading(page: Page, text: str) -> None:
    expect(page.locator("h1")).to_have_text(text)


def confirmation_link(served: Served, address: str) -> str:
    message = confirmation_mail(served.site, address)
    assert message["Subject"].startswith("Confirm your subscription")
    body = message.get_content()  # decoded: quoted-printable never splits the link
    [link] = re.findall(r"http://127\.0\.0\.1:\d+/confirm\?token=\S+", body)
    return link


def subscribe_and_confirm(page: Page, served: Served, address: str) -> None:
    """The double opt-in, as a person does it; the store is checked at every step."""
    page.goto(served.url)
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Name (optional)").fill("Rea Der")
    page.get_by_role("button", name="Subscribe").click()
    heading(page, "Check your inbox")
    expect(page.locator("main")).to_contain_text("confirmation link")
    assert status_of(served, address) is Status.PENDING

    link = confirmation_link(served, address)
    assert link.startswith(served.url)
    page.goto(link)
    heading(page, "Confirm your subscription")
    expect(page.locator("main")).to_contain_text(address)
    assert page.get_by_role("button").count() == 1
    assert status_of(served, address) is Status.PENDING  # opening the link is not enough

    page.get_by_role("button", name="Confirm").click()
    heading(page, "Subscribed")
    assert status_of(served, address) is Status.ACTIVE


def digest_messages(served: Served, issue: int = 1) -> list:
    folder = served.site.root / "outbox" / str(issue)
    return [parse(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def digest_unsubscribe_link(served: Served, address: str) -> str:
    [message] = digest_messages(served)
    assert message["To"].addresses[0].addr_spec == address
    assert message["List-Unsubscribe-Post"] is None  # an http link: no RFC 8058 one-click
    [link] = re.findall(r"<(http[^>]+)>", message["List-Unsubscribe"])
    page_html = message.get_body(("html",)).get_content()
    assert link in {html.unescape(href) for href in re.findall(r'href="([^"]+)"', page_html)}
    return link


def test_subscribe_confirm_receive_a_digest_and_unsubscribe(chromium, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())
    with serving(tmp_path / "site", POSTS) as served:
        context = chromium.new_context(viewport={"width": 375, "height": 812})
        try:
            page = context.new_page()
            subscribe_and_confirm(page, served, ADDRESS)

            assert main(["--site", str(served.site.root), "digest", "send"]) == 0
            link = digest_unsubscribe_link(served, ADDRESS)
            assert link.startswith(f"{served.url}unsubscribe?token=")
            page.goto(link)
            heading(page, "Unsubscribe")
            expect(page.locator("main")).to_contain_text(ADDRESS)
            assert page.get_by_role("button").count() == 1
            assert status_of(served, ADDRESS) is Status.ACTIVE  # GET changes nothing

            page.get_by_role("button", name="Unsubscribe").click()
            heading(page, "Unsubscribed")
            assert status_of(served, ADDRESS) is Status.UNSUBSCRIBED
            [digest] = digest_messages(served)  # and the one confirmation
            assert digest["To"].addresses[0].addr_spec == ADDRESS
            assert confirmation_mail(served.site, ADDRESS)["To"] == ADDRESS
            [welcomed] = (served.site.root / "outbox" / "welcome").glob("*.eml")  # and one welcome
            assert parse(welcomed.read_bytes())["Subject"].startswith("Welcome to ")
        finally:
            context.close()


def test_subscribing_and_confirming_need_no_javascript(chromium, tmp_path):
    with serving(tmp_path / "site", POSTS) as served:
        context = chromium.new_context(
            java_script_enabled=False, viewport={"width": 375, "height": 812}
        )
        try:
            subscribe_and_confirm(context.new_page(), served, ADDRESS)
        finally:
            context.close()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A served site with the awkward posts and one digest issue sent: name -> page URL."""
    root = tmp_path_factory.mktemp("showcase") / "site"
    config = "[digest]\nfull_text = true\n"  # the long word and the table in the issue too
    with (
        pytest.MonkeyPatch.context() as patch,
        serving(root, POSTS, mail=config) as served,
    ):
        patch.setenv("POSTROOM_SECRET", SECRET.decode())
        SubscriberList(served.store).add(ADDRESS, "Rea Der")
        assert main(["--site", str(served.site.root), "digest", "send"]) == 0
        assert (served.site.public_dir / "digests" / "1" / "index.html").is_file()
        posts = {p.title: p for p in served.store.posts()}
        now = datetime.now(UTC)
        reader = SubscriberList(served.store).find(ADDRESS)
        issued = int(now.timestamp())
        unsubscribe = make_token(SECRET, Purpose.UNSUBSCRIBE, reader.id, ADDRESS, issued)
        yield {
            "index": served.url,
            "post-long-link": page_url(served, posts[LONG_TITLE]),
            "post-wide-table": page_url(served, posts["Caseloads by team, in one wide table"]),
            "digests": f"{served.url}digests/",
            "digest-1": f"{served.url}digests/1/",
            "confirm": confirm_url(served.site, SECRET, reader, now),
            "unsubscribe": f"{served.url}unsubscribe?token={unsubscribe}",
        }


def page_url(served: Served, post) -> str:
    """The post page's address, as the index links to it."""
    index = (served.site.public_dir / "index.html").read_text(encoding="utf-8")
    title = html.escape(post.title, quote=False)
    [href] = re.findall(rf'<a href="([^"]+)">{re.escape(title)}</a>', index)
    return html.unescape(href)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_fits_the_width_with_no_sideways_scrolling(chromium, showcase, width, tmp_path):
    context = chromium.new_context(viewport={"width": width, "height": WIDTHS[width]})
    overflowing = []
    try:
        page = context.new_page()
        for name, url in showcase.items():
            response = page.goto(url)
            assert response is not None and response.ok, (name, url)
            shot = tmp_path / f"{name}-{width}.png"
            scroll, inner = screenshot_width(page, shot)
            if scroll > inner:
                overflowing.append(f"{name}: {scroll} px wide in a {inner} px window ({shot})")
    finally:
        context.close()
    assert not overflowing, "pages scroll sideways:\n" + "\n".join(overflowing)
