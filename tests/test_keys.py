"""A post page's key (`feeds.keys.page_keys`) hashes the site's part once for all heads:
it must be the key `digest` gives for the same parts, or a site's pages would all be
made again for nothing, and two builds of one site could disagree."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from postroom.core.model import Attribution, DateSource, PostHead
from postroom.feeds.keys import digest, page_keys

_NOW = datetime(2026, 12, 5, tzinfo=UTC)
_HEAD = PostHead(
    "a-post", "A post", _NOW, DateSource.FRONT_MATTER, _NOW, _NOW, Attribution(), (), (), None, ""
)
# any text, lone surrogates too: digest encodes with surrogatepass
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@given(base=_TEXT, post_id=_TEXT, fingerprint=_TEXT)
def test_a_page_key_is_the_digest_of_the_site_and_the_post(base, post_id, fingerprint):
    head = replace(_HEAD, id=post_id, fingerprint=fingerprint)
    assert page_keys(base)(head) == digest(base, "post", post_id, fingerprint)
