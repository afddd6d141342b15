"""The digest email as a reader gets it: its size against Gmail's clipping, the text part
saying what the HTML says, credits that read as sentences, the plain-text conventions,
Outlook's wrapper, and the design (light, dark, styles stripped) measured in Chromium.

The messages are built by the real IssueMessage and read back with the `email` package;
the layouts are loaded into Debian's headless Chromium (Playwright) and measured there.
"""

from __future__ import annotations

import email
import itertools
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from lxml import html as lxml_html
from postroom.content.intake import scan
from postroom.core.config import ConfigError
from postroom.core.model import Attribution, DateSource, LeadImage, Post
from postroom.emails.issues import decide_slot
from postroom.emails.message import IssueMessage, Recipient
from postroom.emails.render import ADDRESS, UNSUBSCRIBE_URL, render_digest
from postroom.feeds.credit import credit_html
from postroom.feeds.syndication import post_url
from postroom.scheduler import main
from postroom.store import Store
from postroom.store.digests import Issue, SlotOutcome
from service_support import ROOT
from support import make_post, make_site, write
from web_support import screenshot_width

SECRET = b"a test secret that is long enough"
GMAIL_CLIPS = 102 * 1024
# the longest address there can be (64 octets before the @, 254 in all)
LONG_ADDRESS = "a" * 64 + "@" + "b" * 61 + "." + "c" * 61 + "." + "d" * 57 + ".example"
assert len(LONG_ADDRESS) == 254
BASE = '[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
# whole posts: the site shows its sources' articles whole (site.republish) and the email
# carries them whole (digest.full_text)
FULL = BASE + 'republish = "full"\n[digest]\nfull_text = true\n'
LAST_WORDS = "and that is where the report ends"


def long_post(n: int) -> Post:
    """A post of about 15 KB of text with a link inside, ending in LAST_WORDS."""
    paragraph = "<p>" + "Duty teams kept the phones open through the snow. " * 25 + "</p>"
    body = (
        paragraph * 12
        + f'<p>See <a href="https://example.org/report/{n}">the report</a>, {LAST_WORDS}.</p>'
    )
    return make_post(n, title=f"A long read, part {n}", body_html=body)


def issue_of(site, number: int, posts: list[Post]):
    rendered = render_digest(site, number, posts)
    stamp = datetime(2026, 11, 2, 7, tzinfo=UTC).isoformat()
    issue = Issue(
        number,
        stamp,
        stamp,
        rendered.subject,
        rendered.html,
        rendered.text,
        tuple(p.id for p in posts),
    )
    return rendered, issue


def mime_parts(site, issue, address: str = LONG_ADDRESS) -> dict[str, tuple[bytes, str]]:
    """content type -> (the part's encoded octets as sent, its decoded text)."""
    envelope = IssueMessage(site, issue, SECRET).for_recipient(Recipient(1, address))
    message = email.message_from_bytes(envelope.data, policy=policy.SMTP)
    boundary = message.get_boundary().encode()
    raw = envelope.data.split(b"--" + boundary)
    found = {}
    for part in message.iter_parts():
        kind = part.get_content_type()
        [octets] = [r for r in raw if f"Content-Type: {kind};".encode() in r]
        found[kind] = (octets, part.get_content())
    return found


# --- defect 2: the HTML budget ------------------------------------------------------


@pytest.mark.once  # rendered in memory: no store is read or written
def test_a_twenty_post_full_text_issue_stays_under_gmails_clipping(tmp_path):
    site = make_site(tmp_path, config=FULL)
    posts = [long_post(n) for n in range(1, 21)]
    assert sum(len(p.body_html) for p in posts) > 250_000  # 305 KB of HTML before the fix
    rendered, issue = issue_of(site, 1, posts)
    parts = mime_parts(site, issue)
    octets, page = parts["text/html"]
    assert len(octets) < GMAIL_CLIPS  # the part as sent, quoted-printable and all
    assert len(page.encode()) <= 90 * 1024  # the budget, with the longest address in it
    assert LONG_ADDRESS in page and "unsubscribe?token=" in page
    tree = lxml_html.fromstring(page)
    links = {a.get("href"): a.text_content() for a in tree.iter("a")}
    for post in posts:  # every post is still there, linked by its title
        assert links[post_url(site, post)] == post.title
    assert rendered.cut  # and it says what was cut
    cut = {c.title for c in rendered.cut}
    assert "A long read, part 1" not in cut  # the lead keeps its whole text
    assert LAST_WORDS in tree.xpath("string(//*[contains(@class, 'post')][1])")
    assert "digest.max_html_kb" in rendered.cut_note()
    for title in cut:
        assert repr(title) in rendered.cut_note() or len(cut) > 3


def over_budget_site(tmp_path: Path):
    """Eight long full-text posts against a 40 KB budget: some must be cut."""
    site = make_site(tmp_path / "site", config=FULL + "max_html_kb = 40\n")
    body = "Duty teams kept the phones open through the snow. " * 150
    for n in range(1, 9):
        write(
            site.content_dir / f"p{n}.md",
            f"---\ntitle: Long read {n}\ndate: 2016-06-2{n}\n---\n{body}\n",
        )
    return site


def test_preview_and_send_say_what_the_budget_cut(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET.decode())
    site = over_budget_site(tmp_path)
    assert main(["--site", str(site.root), "digest", "preview"]) == 0
    said = capsys.readouterr().err
    [line] = [x for x in said.splitlines() if "max_html_kb" in x]
    assert "under 40 KB" in line and "to excerpts" in line
    html = (site.root / "preview" / "digest.html").read_bytes()
    assert len(html) < 40 * 1024
    assert main(["--site", str(site.root), "digest", "send"]) == 0
    out = capsys.readouterr().out
    assert "issue 1 made" in out
    assert len([x for x in out.splitlines() if "max_html_kb" in x and "to excerpts" in x]) == 1


def test_a_sites_own_digest_template_without_the_size_markers_still_keeps_the_budget(tmp_path):
    """The budget measures each post between markers the packaged template writes; a
    curator's own digest.html without them made every issue over budget fail (KeyError)."""
    site = over_budget_site(tmp_path)
    packaged = (ROOT / "emails" / "templates" / "digest.html").read_text()
    own = re.sub(r"<!--/?post:\{\{ order\[post.id\] \}\}-->\n", "", packaged)
    assert own != packaged
    write(site.root / "templates" / "emails" / "digest.html", own)
    store = Store(site.store_url)
    try:
        scan(site, store, datetime.now(UTC))
        posts = store.posts()
    finally:
        store.close()
    rendered = render_digest(site, 1, posts)
    assert len(rendered.html.encode()) < 40 * 1024 and rendered.cut
    assert all(p.title in rendered.html for p in posts)  # cut to excerpts or links, not lost


def test_the_service_logs_what_the_budget_cut_from_an_issue_it_makes(tmp_path, caplog):
    """An issue made at its slot (no one at a terminal to tell) says in the log what
    `digest send` prints."""
    site = over_budget_site(tmp_path)
    store = Store(site.store_url)
    try:
        first = datetime(2026, 11, 30, 9, tzinfo=UTC)  # a Monday, after the 07:00 slot
        scan(site, store, first)
        assert decide_slot(site, store, first).outcome is SlotOutcome.BEFORE_START
        with caplog.at_level(logging.WARNING, logger="postroom.digest"):
            made = decide_slot(site, store, first + timedelta(weeks=1))
    finally:
        store.close()
    assert made.issue is not None and made.issue.number == 1
    [line] = [r.getMessage() for r in caplog.records if "max_html_kb" in r.getMessage()]
    assert line.startswith("digest: issue 1: ") and "to excerpts" in line


@pytest.mark.once  # rendered in memory: no store is read or written
@pytest.mark.parametrize(
    ("value", "why"),
    [("15", "at least 16"), ("96", "at most 95"), ('"90"', "")],
)
def test_max_html_kb_is_checked(tmp_path, value, why):
    with pytest.raises(ConfigError, match=rf"digest\.max_html_kb.*{why}"):
        make_site(tmp_path, config=BASE + f"[digest]\nmax_html_kb = {value}\n")


@pytest.mark.once  # rendered in memory: no store is read or written
def test_an_issue_of_hundreds_of_posts_keeps_its_footer_and_counts_the_rest(tmp_path):
    site = make_site(tmp_path, config=BASE + "[digest]\nmax_posts = 5\nmax_html_kb = 16\n")
    posts = [make_post(n, title=f"Post number {n} " + "with a long title " * 4) for n in range(400)]
    rendered, issue = issue_of(site, 3, posts)
    page = mime_parts(site, issue)["text/html"][1]
    assert len(page.encode()) <= 16 * 1024 and "Unsubscribe" in page
    omitted = sum(c.shown.name == "OMITTED" for c in rendered.cut)
    assert omitted > 100
    assert f"And {omitted} more posts in this issue" in page
    assert "https://notes.example.org/digests/3/" in page
    assert f"And {omitted} more posts in this issue" in rendered.text


# --- defect 3: the same content in both parts ---------------------------------------


@pytest.mark.once  # rendered in memory: no store is read or written
def test_full_text_goes_in_the_text_part_too(tmp_path):
    site = make_site(tmp_path, config=FULL)
    post = make_post(
        1,
        body_html="<p>First paragraph.</p><ul><li>one point</li><li>another</li></ul>"
        '<p>Read <a href="https://example.org/report">the report</a> and'
        " <a href='https://example.org/plain'>https://example.org/plain</a>, "
        f"{LAST_WORDS}.</p><pre>  kept   as   is</pre>",
    )
    rendered, issue = issue_of(site, 1, [post, make_post(2)])
    text = mime_parts(site, issue)["text/plain"][1].replace("\r\n", "\n")
    assert LAST_WORDS in " ".join(text.replace(">", " ").split())  # wrapped, quoted
    assert LAST_WORDS in rendered.html
    assert "First paragraph." in text and "- one point" in text
    assert "the report [1]" in text
    assert re.search(r"^ *> \[1\] https://example\.org/report$", text, re.M)
    assert "https://example.org/plain," in text  # a URL as its own text: no reference
    assert "  kept   as   is" in text
    assert "<p>" not in text and "<a " not in text
    long_lines = [x for x in text.splitlines() if len(x) > 78]
    assert all("://" in x or LONG_ADDRESS in x for x in long_lines), long_lines


@pytest.mark.once  # rendered in memory: no store is read or written
def test_excerpts_are_what_both_parts_show_without_full_text(tmp_path):
    site = make_site(tmp_path, config=BASE)
    rendered = render_digest(site, 1, [long_post(1)])
    assert LAST_WORDS not in rendered.text and LAST_WORDS not in rendered.html
    assert "Summary 1" in rendered.text and "Summary 1" in rendered.html


# --- defect 12: credits ---------------------------------------------------------------

AUTHORS = [None, "Mark Rogers"]
SOURCES = [None, "Community Care"]
URLS = [None, "https://www.communitycare.co.uk/a?b=1&c=2"]
DATES = [DateSource.PICKED_UP, DateSource.TEXT]


@pytest.mark.once  # rendered in memory: no store is read or written
@pytest.mark.parametrize(
    ("author", "source", "url", "dated"), list(itertools.product(AUTHORS, SOURCES, URLS, DATES))
)
def test_every_combination_of_credit_parts_reads_as_a_sentence(
    tmp_path, author, source, url, dated
):
    site = make_site(tmp_path, config=BASE + "[digest]\nmax_posts = 1\n")
    attribution = Attribution(source=source, author=author, url=url)
    post = replace(
        make_post(1, attribution=attribution, date_source=dated),
        date=datetime(2016, 12, 7, tzinfo=UTC),
    )
    listed = replace(post, id="post-2", title="Listed after max_posts")
    rendered = render_digest(site, 1, [post, listed])
    html_credit = lxml_html.fromstring(f"<p>{credit_html(post)}</p>").text_content()
    text_part = rendered.text
    [shown_part, more_part] = text_part.split("More this week:")
    page = lxml_html.fromstring(rendered.html)
    [listed_item] = page.xpath("//li[.//a[text()='Listed after max_posts']]")
    compact = listed_item.text_content()
    for said in (html_credit, shown_part, compact, more_part):
        assert "First published on" not in said
        assert not re.search(r"First published\s*(·|$|\n)", said)
        if source:
            assert source in said
        if author:
            assert f"By {author}" in said
        if dated is DateSource.TEXT:
            assert "7 December 2016" in said
        else:
            assert "2016" not in said
    if source or url:
        assert re.search(r"First published (in|at) ", html_credit)
        assert re.search(r"First published (in|at) ", shown_part)
    elif dated is DateSource.TEXT:
        assert "7 December 2016" in html_credit and "First published" not in html_credit
    if url:  # the original is linked in the compact credit and listed in the text
        assert url in {a.get("href") for a in listed_item.iter("a")}
        assert f"Original: {url}" in more_part
    if not (author or source or url or dated is DateSource.TEXT):
        assert html_credit == "" and not listed_item.xpath(".//*[@class='credit']")
    assert " · · " not in compact and not compact.strip().endswith("·")


# --- defect 13: plain-text conventions -------------------------------------------------


@pytest.mark.once  # rendered in memory: no store is read or written
def test_plain_text_signature_alignment_spacing_and_a_plain_unsubscribe_line(tmp_path):
    site = make_site(tmp_path, config=BASE)
    rendered = render_digest(site, 1, [make_post(n) for n in range(1, 13)])
    lines = rendered.text.splitlines()
    assert "-- " in lines  # the signature separator, with its space
    assert lines.index("-- ") > max(i for i, x in enumerate(lines) if "Post number" in x)
    nine = next(x for x in lines if x.endswith("Post number 9"))
    ten = next(x for x in lines if x.endswith("Post number 10"))
    assert nine == " 9. Post number 9" and ten == "10. Post number 10"
    assert nine.index("Post") == ten.index("Post")
    # the post's lines sit under its title's first letter
    after = lines[lines.index(ten) + 1]
    assert after.startswith(" " * ten.index("Post") + "By ")
    credit_at = next(i for i, x in enumerate(lines) if "First published in" in x)
    assert lines[credit_at + 1] == "" and "Summary" in lines[credit_at + 2]
    footer = "\n".join(lines[lines.index("-- ") :])
    assert "Unsubscribe:" not in footer
    assert re.search(r"button", footer) and re.search(r"unsubscribe", footer, re.I)
    assert footer.rstrip().endswith(UNSUBSCRIBE_URL)
    html = lxml_html.fromstring(rendered.html)
    [personal] = [p for p in html.iter("p") if ADDRESS in p.text_content()]
    assert "button" in personal.text_content()


# --- defect 10: Outlook --------------------------------------------------------------


@pytest.mark.once  # rendered in memory: no store is read or written
def test_outlook_gets_a_centred_600px_wrapper_and_the_client_metas(tmp_path):
    rendered = render_digest(make_site(tmp_path, config=BASE), 1, [make_post(1)])
    html = rendered.html
    opened = re.search(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", html, re.S)
    assert opened, "no Outlook conditional wrapper"
    wrapper = lxml_html.fromstring(opened.group(1) + "</td></tr></table>")
    assert wrapper.tag == "table" and wrapper.get("width") == "600"
    assert wrapper.get("align") == "center"
    assert re.search(r"<!--\[if mso\]>\s*</td></tr></table>\s*<!\[endif\]-->", html)
    tree = lxml_html.fromstring(html)
    [preheader] = tree.find_class("preheader")
    style = preheader.get("style").replace(" ", "")
    assert "mso-hide:all" in style and "display:none" in style
    assert preheader.text_content() == "Summary 1"  # one post: its summary (issue 15, voice)
    metas = {m.get("name"): m.get("content") for m in tree.iter("meta") if m.get("name")}
    assert "x-apple-disable-message-reformatting" in metas
    assert "telephone=no" in metas["format-detection"]


# --- the design ----------------------------------------------------------------------


def showcase_posts() -> list[Post]:
    """The awkward posts: a long unbreakable word and URL, a wide table, code, an image,
    a comment, a post with no source, and enough of them for a list after max_posts."""
    word = "Kinderschutzfachkraftberatungsstellenkoordinationsausschuss" * 2
    url = "https://www.example.org/report?id=" + "0f3c9a7be41d5286" * 12
    table = "<table><tr>" + "".join(f"<td>{n * 7} cases in team {n}</td>" for n in range(12))
    wide = make_post(
        2,
        title=f"The {word} report",
        body_html=f"<p>The report is at {url} and it is a {word}.</p>"
        f"{table}</tr></table><pre>caseload_report --team=duty-and-assessment-north"
        " --from=2016-01-01 --to=2016-12-31 --format=wide --columns=jan,feb,mar,apr</pre>",
    )
    # a lead image that never loads (nothing listens on port 9): its box, its alt text
    photo = LeadImage("http://127.0.0.1:9/snow.jpg", "A gritter on a snowy road")
    lead = make_post(
        1, title="What duty teams know about snow days, and what nobody wrote down", image=photo
    )
    commented = replace(make_post(3), comment="<p>Worth reading for the last paragraph alone.</p>")
    own = make_post(4, title="A note of our own", attribution=Attribution())
    rest = [make_post(n) for n in range(5, 9)]
    return [lead, wide, commented, own, *rest]


def filled(html: str) -> str:
    url = "https://notes.example.org/unsubscribe?token=" + "Zm9v" * 100
    return html.replace(ADDRESS, LONG_ADDRESS).replace(UNSUBSCRIBE_URL, url)


@pytest.mark.once  # rendered in memory: no store is read or written
def test_the_design_reads_as_a_newsletter(tmp_path):
    site = make_site(
        tmp_path,
        config=BASE + "[digest]\nmax_posts = 6\nfull_text = true\n[mail]\nfrom_address = "
        '"digest@notes.example.org"\npostal_address = "1 High Street\\nLeeds LS1 1AA"\n',
    )
    posts = showcase_posts()
    rendered = render_digest(site, 4, posts)
    tree = lxml_html.fromstring(rendered.html)
    assert tree.xpath("string(//h1)") == "Practice Notes"  # the masthead
    assert "Read it on" not in rendered.html
    for post in posts:  # one link per post to its page, its title the link's text
        links = [a for a in tree.iter("a") if a.get("href") == post_url(site, post)]
        assert [a.text_content() for a in links] == [post.title]
    quotes = tree.xpath("//blockquote")
    assert len(quotes) == 5  # the sources' words, and not the curator's own post
    comment = tree.xpath("//*[contains(@class, 'comment')]")[0]
    assert comment.text_content() == "Worth reading for the last paragraph alone."
    assert comment.getparent() is quotes[2].getparent()  # with its post, outside the quote
    foot = tree.xpath("string(//*[contains(@class, 'foot')])")
    assert "digest@notes.example.org" in foot and "1 High Street" in foot and "LS1 1AA" in foot
    assert "1 High Street" in rendered.text
    unset = render_digest(make_site(tmp_path / "b", config=BASE), 4, posts[:1])
    assert "High Street" not in unset.html


WIDTHS = (320, 375, 600, 1200)

# Every visible text node: its colour against the first opaque background behind it
# (WCAG 2 relative luminance), and what it is, for the failure message.
CONTRAST = """
(fallback) => {
  const rgba = (s) => (s.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number);
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible') continue;
    let bg = null;
    for (let n = el; n && !bg; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) bg = c;
    }
    const fg = rgba(style.color);
    const [a, b] = [lum(fg), lum(bg || fallback)].sort((x, y) => y - x);
    found.push({text: node.textContent.trim().slice(0, 40), ratio: (a + 0.05) / (b + 0.05),
                fg: style.color, bg: (bg || fallback).join(',')});
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def showcase_html(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("design")
    config = BASE + "[digest]\nmax_posts = 6\nfull_text = true\n"
    return filled(render_digest(make_site(root, config=config), 4, showcase_posts()).html)


@pytest.mark.once  # rendered in memory: no store is read or written
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("styles", ["with-style", "style-stripped"])
def test_every_layout_fits_and_every_text_is_readable(
    chromium, showcase_html, scheme, styles, tmp_path
):
    """At 320, 375, 600 and 1200 px, light and dark, with and without <style>: no sideways
    scrolling, and every text at WCAG AA contrast (4.5:1) on what is behind it."""
    page_html = showcase_html
    if styles == "style-stripped":  # as some clients do: only the inlined styles are left
        page_html = re.sub(r"<style\b.*?</style>", "", page_html, flags=re.S)
        assert "<style" not in page_html
    problems = []
    fallback = [18, 18, 18, 1] if scheme == "dark" else [255, 255, 255, 1]
    for width in WIDTHS:
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        try:
            page = context.new_page()
            page.set_content(page_html, wait_until="load")
            shot = tmp_path / f"digest-{width}-{scheme}-{styles}.png"
            scroll, inner = screenshot_width(page, shot)
            if scroll > inner:
                problems.append(f"{width}px: {scroll} px wide ({shot})")
            texts = page.evaluate(CONTRAST, fallback)
            assert len(texts) > 30  # the walk saw the page
            for t in texts:
                if t["ratio"] < 4.5:
                    problems.append(
                        f"{width}px: {t['text']!r} {t['fg']} on rgb({t['bg']}): {t['ratio']:.2f}:1"
                    )
            headlines = page.evaluate(
                "[...document.querySelectorAll('h2 a')].map(e => [e.textContent,"
                " getComputedStyle(e).textDecorationLine, getComputedStyle(e).color])"
            )
            assert len(headlines) >= 6
            for title, decoration, colour in headlines:
                if decoration != "none" or colour == "rgb(0, 0, 238)":
                    problems.append(f"{width}px: {title!r} is a default link ({colour})")
            dividers = page.evaluate(
                "[...document.querySelectorAll('.post')].slice(1)"
                ".map(e => parseFloat(getComputedStyle(e).borderTopWidth))"
            )
            if not dividers or min(dividers) < 1:
                problems.append(f"{width}px: posts without a divider: {dividers}")
        finally:
            context.close()
    assert not problems, "\n".join(problems)
