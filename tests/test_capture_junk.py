"""Page furniture, listing headings, a post's end and teaser tails (content/captures/junk.py)."""

import pytest
from postroom.content.captures.junk import (
    ends_post,
    is_junk,
    is_listing_heading,
    is_more_link,
    teaser_tail,
)

pytestmark = pytest.mark.nostore


@pytest.mark.parametrize(
    "line",
    [
        # cookie and browser banners
        "This website uses cookies to improve your experience. By continuing you consent to "
        "our use of cookies.",
        "We store cookies on your device so the site works properly.",
        "Accept all cookies",
        "Manage cookies",
        "Cookie consent settings",
        "Your browser is out of date. Please update to view this site properly.",
        "For the best experience, please use a modern browser",
        # skip links and scripts
        "Skip to main content",
        "Jump to navigation",
        "Please enable JavaScript to view the comments.",
        "JavaScript is disabled in your browser",
        # newsletters and paywalls
        "Sign up to our weekly newsletter",
        "Subscribe to the Westbury Herald newsletter",
        "Get the latest headlines in your inbox every morning",
        "Enter your email address",
        "Subscribe to read this story in full",
        "Already a subscriber? Log in",
        "To continue reading, please subscribe",
        # share widgets and counters
        "1,234 shares",
        "56 likes",
        "12 comments",
        "Share this article",
        "Share on Facebook",
        "Tweet",
        "(1,234 posts)",
        "(1 post)",
        "7 items found",
        "23 results found",
        # relative dates and reading times
        "5 days ago",
        "Jane Doe commented 2 hours ago",
        "2 min read",
        "Reading time: 4 minutes",
        # alt text left behind
        "Banner picture of Westbury Wanderers players",
        "Header image of the town hall",
        "Council logo",
        "Adult Social Care Icon",
        "Team photo",
        # image credits and file names
        "Tom Harris/Flickr, CC BY",
        "Tom Harris/Flickr, CC BY-SA 2.0",
        "Photo by Jane Doe on Unsplash",
        "Photo: Westbury Council",
        "Image credit: Getty Images",
        "Shutterstock",
        "Source: Wikimedia Commons",
        "Team v Rivals 003",
        "Westbury v Ashford 017",
        "IMG_4512.jpg",
        "K4410 B20917 Fd31 C05 Ab02210474 F19 D",
        # navigation
        "Back to top",
        "Home > News > Local",
        "Powered by WordPress",
        "Advertisement",
        "Older posts",
        "Menu",
        "***",
        "• • •",
    ],
)
def test_page_furniture_is_junk(line):
    assert is_junk(line)


@pytest.mark.parametrize(
    "line",
    [
        "Council approves new cycle lanes on the high street",
        "Why I stopped using my browser’s password manager",
        "The council said cookies and cakes would be served at the fete.",
        "Residents were asked to share their views on the plans.",
        "Five days ago the bridge was closed after a lorry struck it.",
        "She first fostered a child 30 years ago.",
        "Search for missing walker called off after five days",
        "Home secretary announces review of police funding",
        "Photographers capture the first snow of the winter",
        "Newsletter: what the budget means for you",
        "Share prices fell sharply on Monday",
        "Menu changes at the school canteen",
        "Learn more about fostering in Westbury",
        "We found 7 items in the lost property box last week.",
        "Video shows flooding in the town centre",
        "JavaScript developers meet in Leeds",
        "Credit unions are growing in Westbury",
        "In 2019 the council signed up to the newsletter scheme for local businesses run by "
        "the chamber of commerce.",
        # long prose that mentions cookies is still prose
        "The bakery, which has accepted cookies from local schools for its charity stall every "
        "year since it opened, said it would consent to the council's plan to use the market "
        "square for the fair, provided stallholders could turn up early and set up their "
        "tables before nine.",
    ],
)
def test_headlines_and_sentences_are_not_junk(line):
    assert not is_junk(line)


@pytest.mark.parametrize(
    "line",
    [
        "Tag Archives: Housing",
        "Category Archives: Planning",
        "Archives",
        "Archive for March 2019",
        "Showing posts from May, 2021",
        "Showing posts with label fostering",
        "Latest news",
        "News",
        "Blog posts",
        "Press releases",
        "All news articles",
        "Page 2 of 14",
        "Posts tagged housing",
        'Results for "housing"',
        "Posts by Jane Doe",
        "Category: Youth work",
        "Tagged: fostering",
    ],
)
def test_a_listing_heading_says_the_page_lists_posts(line):
    assert is_listing_heading(line)
    assert is_junk(line)


@pytest.mark.parametrize(
    "line",
    [
        "News from the council chamber",
        "Council news roundup",
        "Council approves new cycle lanes",
        "Showing the way on adult social care",
    ],
)
def test_a_headline_is_no_listing_heading(line):
    assert not is_listing_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "Leave a comment",
        "Leave a Reply",
        "Post a comment",
        "Add your comment",
        "No comments:",
        "12 comments",
        "3 responses to “Why councils need more money”",
        "Comments are closed.",
        "Join the discussion",
        "Have your say",
        "You must log in to post a comment.",
        "Related",
        "Related articles",
        "Related posts:",
        "Read next",
        "You might also like",
        "You may also enjoy",
        "More stories from Westbury",
        "Filed under: Housing, Planning",
        "Share this:",
        "Most read",
        "Recommended for you",
        "References:",
        "Send your stories to news@westbury.example",
    ],
)
def test_comments_and_related_widgets_end_a_post(line):
    assert ends_post(line)


@pytest.mark.parametrize(
    "line",
    [
        "Related news: the council has approved the plan",
        "Comments from residents were mostly positive",
        "Most readers agreed with the plan",
        "Recommended reading for foster carers",
        "The council said it would leave a comment box at the library.",
    ],
)
def test_sentences_that_mention_comments_do_not_end_a_post(line):
    assert not ends_post(line)


@pytest.mark.parametrize(
    "line",
    [
        "Read more",
        "Read more »",
        "Read More →",
        "Continue reading →",
        "Continue reading Why councils need more money",
        "Keep reading",
        "View original post 512 more words",
        "Read the full story",
        "Read the full article",
        "Read the report",
        "More info",
        "Find out more",
        "See more",
    ],
)
def test_a_more_link_ends_a_listing_s_teaser(line):
    assert is_more_link(line)


@pytest.mark.parametrize(
    "line",
    [
        "Read more – Westbury Herald",  # a credit, not a link
        "Read more: Westbury Herald",
        "Reading more books is good for you",
        "Read the room",
        "More information is available from the council",
    ],
)
def test_credits_and_sentences_are_no_more_link(line):
    assert not is_more_link(line)


_TEASER = "The council has approved the plan"


@pytest.mark.parametrize(
    "line",
    [
        f"{_TEASER} … Read more »",
        f"{_TEASER} [...]",
        f"{_TEASER} […]",
        f"{_TEASER}...",
        f"{_TEASER}… Continue reading →",
        f"{_TEASER} Read More",
    ],
)
def test_a_teaser_s_ellipsis_and_more_link_are_cut_from_its_end(line):
    assert teaser_tail(line) == (_TEASER, True)


@pytest.mark.parametrize(
    "line",
    [f"{_TEASER}.", "Read more about it", "He said … and then left"],
)
def test_a_paragraph_without_a_teaser_tail_is_unchanged(line):
    assert teaser_tail(line) == (line, False)


# --- defects found by this file's first draft, each failing before its fix ---


@pytest.mark.parametrize(
    "headline",
    [
        "The mill that closed 40 years ago",
        "Photos: Hundreds turn out for the carnival",
        "Getty Images to cut 200 jobs",
        "Archive footage shows the town in 1950",
    ],
)
def test_headlines_that_share_words_with_furniture_are_not_junk(headline):
    assert not is_junk(headline)


def test_camera_file_names_are_junk_and_read_full_story_ends_a_teaser():
    assert is_junk("IMG_0042") and is_junk("DSC_0042")
    assert teaser_tail("The council has approved the plan. Read full story") == (
        "The council has approved the plan.",
        True,
    )
