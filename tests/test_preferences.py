"""A reader's preferences page and the subscribe form's topics, over real HTTP (`serve` on
127.0.0.1) and in Debian's Chromium with JavaScript off at 375 px: a digest's link opened,
boxes ticked, saved, and the store read back; the unsubscribe button; bad tokens, cross-site
and made-up posts refused; the consent record of a sign-up by the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import lxml.html
import pytest
from playwright.sync_api import Page, expect
from postroom import scheduler
from postroom.core.model import Cadence
from postroom.core.selection import MOST_CHOICES, OFFERED, Selection
from postroom.core.slug import name_slug
from postroom.emails.confirm import CONFIRM_MAX_AGE
from postroom.emails.tokens import Purpose, make_token
from postroom.feeds.offered import offered
from postroom.feeds.pages import render_page
from postroom.store.consent import Event, entries, wording, wording_sha256
from postroom.store.rights import purge_unconfirmed
from postroom.store.schema import subscribers
from postroom.store.subscribers import Choice, Status, SubscriberList
from sqlalchemy import update
from support import make_site
from web_support import SECRET, Served, parse, screenshot_width, serving

WORD = "Kinderschutzfachkraftberatungsstellenkoordinationsausschuss" * 2  # no break in it
POST = """---
title: {title}
date: 2016-06-2{day}
{source}tags: [{tags}]
---
{title}, in a few words.
"""
FILES = {
    "a.md": POST.format(
        title="Matching", day=1, source="source: Community Care\n", tags="Adoption, Fostering"
    ),
    "b.md": POST.format(title="Contact", day=2, source="source: The Guardian\n", tags="Adoption"),
    "c.md": POST.format(title="Duty", day=3, source="source: Community Care\n", tags="Duty teams"),
    "d.md": POST.format(title="Help", day=4, source="", tags=f"Fostering, Early help, {WORD}"),
}
MONTHLY = '[digest]\nmonthly = "first mon 07:00"\n'
WIDTH = 375
FOREIGN = "https://evil.example.net"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Served]:
    """One served site for the module, with a monthly digest; each test its own readers."""
    root = tmp_path_factory.mktemp("prefs") / "site"
    with pytest.MonkeyPatch.context() as patch, serving(root, FILES, mail=MONTHLY) as served:
        patch.setenv("POSTROOM_SECRET", SECRET.decode())
        yield served


@pytest.fixture(scope="module")
def browser(chromium):
    """A context as a phone without JavaScript: every page must work without it."""
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": WIDTH, "height": 812}
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    page = browser.new_page()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def client(site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=10) as c:
        yield c


def reader(served: Served, address: str, status: Status = Status.ACTIVE):
    book = SubscriberList(served.store)
    book.add(address, "", status)
    found = book.find(address)
    assert found is not None
    return found


def link(served: Served, address: str, purpose: Purpose = Purpose.PREFERENCES) -> str:
    who = SubscriberList(served.store).find(address)
    assert who is not None
    token = make_token(SECRET, purpose, who.id, who.address, int(datetime.now(UTC).timestamp()))
    return f"{served.url}preferences?token={token}"


def origin(served: Served) -> dict[str, str]:
    return {"Origin": served.url.rstrip("/"), "Sec-Fetch-Site": "same-origin"}


def forms(response: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """The page's POST forms by their `do`: (action, hidden fields)."""
    found = {}
    for form in lxml.html.fromstring(response.text).xpath("//form[@method='post']"):
        hidden = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
        found[hidden["do"]] = (form.get("action"), hidden)
    return found


def events(served: Served, address: str, event: Event) -> list[dict]:
    with served.store.engine.connect() as conn:
        return [e.detail for e in entries(conn, address.lower()) if e.event is event]


def heading(page: Page, text: str) -> None:
    expect(page.locator("h1")).to_have_text(text)


def fits(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide in a {WIDTH} px window"


# --- what is offered ---


def test_a_site_of_900_tags_offers_the_most_used_and_what_the_reader_chose(tmp_path):
    site = make_site(tmp_path / "a", config='[site]\nbase_url = "https://n.example.org/"\n')
    tagged = [((f"Tag {n}", "Common"), f"Source {n % 300}") for n in range(900)]
    tagged += [(("Popular",), "Big Source")] * 5
    offer = offered(site, tagged)
    assert len(offer.topics) == OFFERED and len(offer.sources) == OFFERED
    assert {"common", "popular"} <= {o.key for o in offer.topics}
    assert "big source" in {o.key for o in offer.sources}
    chosen = Selection.of(["Tag 7", "Gone away"], ["Source 3"])
    mine = offered(site, tagged, chosen)
    assert {"tag-7", "gone-away"} <= {o.key for o in mine.topics}
    assert len(mine.topics) == OFFERED + 2
    # only what is offered comes back
    taken = offer.accept(["Popular", "common", "Tag 7", "x" * 300], ["BIG source.", "Nope"])
    assert taken == Selection(("common", "popular"), ("big source",))
    # the curator's list, when there is one, in their order
    named = make_site(
        tmp_path / "b",
        config='[site]\nbase_url = "https://n.example.org/"\n'
        '[digest]\ntopics = ["Fostering", "Adoption", "fostering"]\n',
    )
    assert [(o.key, o.name) for o in offered(named, tagged).topics] == [
        ("fostering", "Fostering"),
        ("adoption", "Adoption"),
    ]


# --- the preferences page ---


def test_a_digests_preferences_link_saves_topics_cadence_and_a_pause(
    chromium, tmp_path, monkeypatch
):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())
    with serving(tmp_path / "site", FILES, mail=MONTHLY) as served:
        ann = reader(served, "ann@example.org")
        assert scheduler.main(["--site", str(served.site.root), "digest", "send"]) == 0
        [sent] = (served.site.root / "outbox" / "1").glob("*.eml")
        message = parse(sent.read_bytes())
        assert message["To"].addresses[0].addr_spec == ann.address
        text = message.get_body(("plain",)).get_content()
        [url] = re.findall(r"http\S+/preferences\?token=\S+", text)
        html = message.get_body(("html",)).get_content()
        assert url in {href for _, _, href, _ in lxml.html.fromstring(html).iterlinks()}

        context = chromium.new_context(
            java_script_enabled=False, viewport={"width": WIDTH, "height": 812}
        )
        try:
            page = context.new_page()
            before = SubscriberList(served.store).find(ann.address)
            page.goto(url)
            heading(page, "Your digest preferences")
            expect(page.locator("main")).to_contain_text(ann.address)
            fits(page)
            assert SubscriberList(served.store).find(ann.address) == before  # GET: no change

            page.get_by_label("Adoption", exact=True).check()
            page.get_by_label("Early help", exact=True).check()
            page.get_by_label("The Guardian", exact=True).check()
            page.locator("input[name=cadence][value=monthly]").check()
            page.get_by_label("Pause the digest").select_option("2")
            page.get_by_role("button", name="Save").click()
            heading(page, "Preferences saved")
            expect(page.locator(".saved")).to_contain_text("Adoption, Early help")
            expect(page.locator(".saved")).to_contain_text("next digest")
            fits(page)
            screenshot_width(page, tmp_path / "preferences-saved-375.png")  # to look at

            now = datetime.now(UTC)
            saved = SubscriberList(served.store).find(ann.address)
            assert saved is not None and saved.status is Status.ACTIVE
            assert saved.selection == Selection(("adoption", "early-help"), ("the guardian",))
            assert saved.cadence is Cadence.MONTHLY
            until = datetime.fromisoformat(saved.paused_until)
            assert timedelta(days=14) - timedelta(minutes=1) < until - now <= timedelta(days=14)
            [logged] = events(served, ann.address, Event.PREFERENCES)
            assert logged["how"] == "form" and logged["cadence"] == "monthly"
            assert logged["topics"] == ["adoption", "early-help"]
            assert logged["paused_until"] == saved.paused_until

            # the page shows the pause, and ends it; off, and a topic unticked
            expect(page.locator("main")).to_contain_text("Paused until")
            assert page.get_by_role("checkbox", checked=True).count() == 3
            page.get_by_label("Adoption", exact=True).uncheck()
            page.locator("input[name=cadence][value=off]").check()
            page.get_by_label("Pause the digest").select_option("0")
            page.get_by_role("button", name="Save").click()
            heading(page, "Preferences saved")
            again = SubscriberList(served.store).find(ann.address)
            assert again is not None and again.paused_until == ""
            assert again.selection == Selection(("early-help",), ("the guardian",))
            assert again.cadence is Cadence.OFF
            assert len(events(served, ann.address, Event.PREFERENCES)) == 2
        finally:
            context.close()


def test_the_unsubscribe_button_ends_every_digest_in_one_step(site, page):
    bob = reader(site, "bob@example.org")
    page.goto(link(site, bob.address))
    page.get_by_role("button", name="Unsubscribe").click()
    heading(page, "Unsubscribed")
    assert SubscriberList(site.store).find(bob.address).status is Status.UNSUBSCRIBED
    [left] = events(site, bob.address, Event.STATUS)
    assert left == {"how": "form", "status": "unsubscribed"}
    # the link now says so, and offers nothing to save
    page.goto(link(site, bob.address))
    heading(page, "Not subscribed")
    expect(page.locator("main")).to_contain_text("is unsubscribed")
    assert page.get_by_role("button").count() == 0
    fits(page)


def test_tampered_foreign_and_orphaned_tokens_are_refused(site, client):
    cat = reader(site, "cat@example.org")
    good = link(site, cat.address)
    token = good.split("token=")[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (
        f"preferences?token={flipped}",
        f"preferences?token={token}x",
        "preferences",
        link(site, cat.address, Purpose.CONFIRM),
        link(site, cat.address, Purpose.UNSUBSCRIBE),
    ):
        for method in ("GET", "POST"):
            response = client.request(method, bad, headers=origin(site))
            assert response.status_code == 400, (method, bad)
            assert "does not work" in response.text
    # a preferences token is no unsubscribe token either
    assert client.get(f"unsubscribe?token={token}").status_code == 400
    # once the reader is removed, their link is dead (and would be for whoever gets the id)
    dee = reader(site, "dee@example.org")
    dees = link(site, dee.address)
    assert client.get(dees).status_code == 200
    SubscriberList(site.store).remove(dee.address)
    assert client.get(dees).status_code == 400
    assert SubscriberList(site.store).find(cat.address).status is Status.ACTIVE


def test_a_post_from_another_site_or_without_the_pages_token_is_refused(site, client):
    eve = reader(site, "eve@example.org")
    url = link(site, eve.address)
    action, fields = forms(client.get(url))["save"]
    assert action == url
    wanted = fields | {"topics": "adoption", "cadence": "off"}
    for headers, data in (
        ({"Origin": FOREIGN}, wanted),
        ({"Sec-Fetch-Site": "cross-site"}, wanted),
        (origin(site), wanted | {"csrf": "0" * 64}),
        (origin(site), {k: v for k, v in wanted.items() if k != "csrf"}),
    ):
        assert client.post(action, data=data, headers=headers).status_code == 403
    _, unsubscribe = forms(client.get(url))["unsubscribe"]
    assert client.post(action, data=unsubscribe, headers={"Origin": FOREIGN}).status_code == 403
    assert SubscriberList(site.store).find(eve.address) == eve  # nothing changed
    assert events(site, eve.address, Event.PREFERENCES) == []


def test_only_topics_and_sources_offered_are_stored(site, client):
    fay = reader(site, "fay@example.org")
    url = link(site, fay.address)
    action, fields = forms(client.get(url))["save"]
    data = fields | {
        "topics": ["fostering", "made-up", "<script>", "Adoption"],
        "sources": ["community care", "Nowhere Weekly"],
        "cadence": "weekly",
        "pause": "0",
    }
    response = client.post(action, data=data, headers=origin(site))
    assert response.status_code == 200
    saved = SubscriberList(site.store).find(fay.address)
    assert saved.selection == Selection(("adoption", "fostering"), ("community care",))
    assert saved.cadence is None  # weekly was the site's default, and still is theirs
    # a flood of fields is refused whole, and a value the form never had is named
    flood = fields | {"topics": [f"junk-{n}" for n in range(300)]}
    assert client.post(action, data=flood, headers=origin(site)).status_code == 403
    for odd in ({"cadence": "hourly"}, {"pause": "520"}):
        response = client.post(action, data=fields | odd, headers=origin(site))
        assert response.status_code == 400
    assert SubscriberList(site.store).find(fay.address).selection == saved.selection


def test_monthly_is_offered_only_when_the_site_sends_one(site, client, tmp_path, monkeypatch):
    gus = reader(site, "gus@example.org")
    boxes = lxml.html.fromstring(client.get(link(site, gus.address)).text)
    assert boxes.xpath("//input[@name='cadence']/@value") == ["weekly", "monthly", "off"]
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())
    with serving(tmp_path / "plain", FILES) as plain, httpx.Client(timeout=10) as other:
        reader(plain, "gus@example.org")
        page = lxml.html.fromstring(other.get(link(plain, "gus@example.org")).text)
        assert page.xpath("//input[@name='cadence']/@value") == ["weekly", "off"]
        assert page.xpath("//input[@name='cadence'][@checked]/@value") == ["weekly"]
        # one who chose monthly (an import's column) where none is sent gets the weekly:
        # the page says so, rather than offering what never comes
        SubscriberList(plain.store).add("ida@example.org", choice=Choice(cadence=Cadence.MONTHLY))
        page = lxml.html.fromstring(other.get(link(plain, "ida@example.org")).text)
        assert page.xpath("//input[@name='cadence']/@value") == ["weekly", "off"]
        assert page.xpath("//input[@name='cadence'][@checked]/@value") == ["weekly"]


# --- the subscribe form ---


def test_the_subscribe_form_offers_topics_and_records_the_consent_shown(site, page, tmp_path):
    page.goto(site.url)
    fits(page)
    screenshot_width(page, tmp_path / "index-375.png")
    expect(page.locator("form.subscribe")).to_contain_text("Tick none to get every post")
    page.get_by_label("Email address").fill("hal@example.org")
    page.get_by_label("Adoption", exact=True).check()
    page.get_by_label("Duty teams", exact=True).check()
    page.get_by_role("button", name="Subscribe").click()
    heading(page, "Check your inbox")

    hal = SubscriberList(site.store).find("hal@example.org")
    assert hal is not None and hal.status is Status.PENDING
    assert hal.selection == Selection(("adoption", "duty-teams"), ())
    [joined] = events(site, hal.address, Event.SUBSCRIBED)
    assert joined["how"] == "form" and joined["topics"] == ["adoption", "duty-teams"]
    # the hash is of the very words the form showed, and those words are kept
    shown = render_page("consent.html", site.site).decode()
    assert joined["wording_sha256"] == wording_sha256(shown)
    assert shown in (site.site.public_dir / "index.html").read_text(encoding="utf-8")
    assert wording(site.store, joined["wording_sha256"]) == shown
    assert "No tracking" in shown


def test_a_subscribe_post_keeps_only_offered_topics(site, client):
    data = {"email": "ivy@example.org", "topics": ["fostering", "junk", "x" * 200]}
    assert client.post("subscribe", data=data, headers=origin(site)).status_code == 200
    ivy = SubscriberList(site.store).find("ivy@example.org")
    assert ivy is not None and ivy.selection == Selection(("fostering",), ())
    data = {"email": "jo@example.org"}  # no box ticked: everything
    assert client.post("subscribe", data=data, headers=origin(site)).status_code == 200
    assert SubscriberList(site.store).find("jo@example.org").selection.everything


def test_a_subscribe_post_keeps_a_tag_of_the_site_past_the_offers_last_place(tmp_path):
    """The index's boxes were counted when it was built; a post picked up since may have
    pushed a tag out of the last places. Any tag the site has is kept from the form, and
    a made-up one still is not."""
    many = ", ".join(f"Topic {n:02d}" for n in range(OFFERED + 4))
    files = {"many.md": POST.format(title="Many", day=5, source="", tags=many)}
    with pytest.MonkeyPatch.context() as patch, serving(tmp_path / "site", files) as served:
        patch.setenv("POSTROOM_SECRET", SECRET.decode())
        shown = {o.key for o in offered(served.site, [(many.split(", "), None)]).topics}
        assert "topic-27" not in shown  # past the offer's last place
        data = {"email": "kit@example.org", "topics": ["topic-27", "Topic 00", "made-up"]}
        with httpx.Client(base_url=served.url, timeout=10) as c:
            assert c.post("subscribe", data=data, headers=origin(served)).status_code == 200
        kit = SubscriberList(served.store).find("kit@example.org")
        assert kit is not None and kit.selection == Selection(("topic-00", "topic-27"), ())


def test_a_new_confirmation_link_keeps_a_pending_sign_up_as_long_as_it_lives(site, client):
    """Unconfirmed sign-ups are deleted once their link has lapsed (store.rights), by
    `updated_at`: a person who asked again on day 6 holds a link good until day 13, and
    must still be there on day 8 to use it."""
    book = SubscriberList(site.store)
    book.add("lou@example.org", "", Status.PENDING)
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).isoformat(timespec="microseconds")
    with site.store.engine.begin() as conn:
        lou = subscribers.c.address_key == "lou@example.org"
        conn.execute(update(subscribers).where(lou).values(updated_at=six_days_ago))
    data = {"email": "lou@example.org"}
    assert client.post("subscribe", data=data, headers=origin(site)).status_code == 200
    day_8 = datetime.now(UTC) + timedelta(days=2)
    assert purge_unconfirmed(site.store, day_8 - timedelta(seconds=CONFIRM_MAX_AGE)) == []
    assert book.find("lou@example.org") is not None


def test_a_subscribe_post_ticking_more_topics_than_anyone_may_choose_is_a_400(tmp_path):
    many = ", ".join(f"Topic {n:03d}" for n in range(MOST_CHOICES + 6))
    files = {"many.md": POST.format(title="Many", day=5, source="", tags=many)}
    with pytest.MonkeyPatch.context() as patch, serving(tmp_path / "site", files) as served:
        patch.setenv("POSTROOM_SECRET", SECRET.decode())
        topics = [f"topic-{n:03d}" for n in range(MOST_CHOICES + 1)]
        data = {"email": "max@example.org", "topics": topics}
        with httpx.Client(base_url=served.url, timeout=10) as c:
            answer = c.post("subscribe", data=data, headers=origin(served))
        assert answer.status_code == 400 and "at most 100 topics" in answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert SubscriberList(served.store).find("max@example.org") is None


def test_a_long_tag_in_another_script_can_be_chosen_by_its_key(tmp_path):
    """A tag whose slug lost letters gets a digest after it; past 80 characters the
    digest was cut off when the form's value (the key) was made a key again, and the box
    ticked saved nothing."""
    tag = "日本 " + "social work practice " * 5
    key = name_slug(tag)
    assert len(key) <= 80 and name_slug(key) == key
    site = make_site(tmp_path)
    offer = offered(site, [([tag, "Adoption"], None)])
    assert key in {o.key for o in offer.topics}
    assert offer.accept([key], ()).topics == (key,)
