import os

import pytest

from tests.support import make_site

# The seed acceptance runs only where .ci/run points POSTROOM_SEEDS at the real captures.
collect_ignore = [] if os.environ.get("POSTROOM_SEEDS") else ["test_seeds.py"]


# --- feeds and pages (tests/test_feeds.py, tests/test_pages.py) ---


@pytest.fixture
def feed_site(tmp_path):
    """A site whose feeds hold 3 posts, so tests can push posts out of the window."""
    return make_site(
        tmp_path,
        config='[site]\nbase_url = "https://notes.example.org/"\ntitle = "Practice Notes"\n'
        "[feed]\nwindow = 3\n",
    )
