"""Generic boilerplate rules: they fire on the families on unseen wording, and spare news prose.

The examples are written for these tests, in the style of sites nobody here crawls;
none is taken from the sample sites or the seeds.
"""
import pytest

from crawler.page.boilerplate import (
    apply_generic_rules,
    apply_learned,
    block_hash,
    generic_family,
    normalise_block,
)

BOILERPLATE = [
    ("appeal", "A note from the Riverside Ledger:"),
    ("appeal", "Dear reader,"),
    ("appeal", "Please support independent journalism with a gift today."),
    ("appeal", "Make a monthly contribution and keep our newsroom free for everyone."),
    ("appeal", "Not ready to donate yet?"),
    ("appeal", "Maybe later"),
    ("newsletter", "Sign up for our Morning Briefing newsletter to get the headlines before breakfast."),
    ("newsletter", "The best of our reporting, delivered to your inbox every Friday."),
    ("newsletter", "Enter your email address"),
    ("related", "Read more: Harbour expansion approved after two-year review"),
    ("related", "Also read — City council delays vote on tram line"),
    ("related", "Related stories:"),
    ("related", "You might also like: Ten places to eat in the old town"),
    ("share", "Share this story on WhatsApp"),
    ("share", "Follow The Valley Courier on Bluesky for live updates."),
    ("share", "Facebook | Twitter | Email"),
    ("notice", "Originally published at www.coastlinereview.net on 3 May 2021."),
    ("notice", "The Harbour Post is now at harbourpost.news."),
    ("notice", "Our old domain was suspended in March; bookmarks may need updating."),
    ("related", "You Might Also Like"),
    ("player", "This is a modal window. This modal can be closed by pressing the Escape key or activating the close button."),
    ("comments", "42 comments"),
    ("comments", "Leave a comment below"),
    ("related", "Also on harbourpost.news: Ferry strike called off after late-night talks"),
    ("related", "Tags:"),
    ("share", "Enjoyed this article? Forward it to a colleague who would like it."),
    ("credit", "This copy is for personal, non-commercial use only. Reprints can be ordered online."),
    ("credit", "The material may not be published, broadcast, rewritten or redistributed without permission."),
    ("related", "Topics: harbour, ferries, city council, Local News"),
    ("related", "Filed under: Transport |"),
    ("related", "Related posts: Five walks along the estuary"),
    ("interface", "Thumbnails"),
    ("interface", "subtitles off, selected"),
    ("interface", "Loading comments..."),
    ("interface", "Something went wrong: this feature is temporarily unavailable. Please try again later."),
    # a list item, as trafilatura writes it: the rules read the item's own text
    ("share", "- Share on Mastodon"),
    ("interface", "- Fullscreen"),
    ("interface", "Thanks!"),
    ("residue", '[button link="https://harbourpost.news/tips/" type="big" newwindow="yes"] Send us your tip[/button]'),
    ("interface", "This article has been sent to your friend."),
    ("credit", "| Harbour Post | Powered by Tumblr |"),
    ("credit", "Powered by WordPress"),
    ("comments", "Submit comments on this post to <editor@harbourpost.news>."),
]

PROSE = [
    "The exhibition first appeared in Vienna in 1998 before touring Europe for a decade.",
    "\"We need your support to finish the bridge,\" the mayor told the council on Tuesday, asking for extra funds.",
    "Read the full report, the ministry said, and you will see the numbers do not add up.",
    "Shares in the company fell 4% after it said it would share more data with regulators.",
    "The company's website moved its checkout to a new provider, the spokesperson said on Monday.",
    "Officials said the domain of science diplomacy has been neglected for years.",
    "Comments from the minister drew criticism from opposition parties.",
    "Follow-up talks are planned for next month in Geneva, according to two diplomats.",
    "He was at the summit in Brussels, where leaders discussed the budget.",
    "Also on the agenda were fishing quotas and the new customs checks at the port.",
    "Like this story's hero, the town has learned to share what little it has.",
    "The licence allows personal use of the footage, the broadcaster added, but not resale.",
    # a credit to the publication that ran the story first is attribution, kept as body
    "This story was first published on Coastline Review and is republished with permission.",
    "This article was reprinted on Harbourpost.news.",
    "Topics on the table included fishing quotas, the port and the new customs checks.",
    "- Previous governments had promised the same bridge three times.",
    "[Updated at 10:40 with the council's reply.]",
    "Thank you for the question, the minister replied, before turning to the budget.",
    "Loading of the ferry resumed at dawn after the strike.",
    "Please wait for the official count, the returning officer told reporters.",
    "The new quay will be powered by shore electricity from the wind farm, the board said.",
    "Readers sent comments on this story about the ferry strike faster than we could answer them.",
]


@pytest.mark.parametrize("family, block", BOILERPLATE)
def test_generic_rules_catch_the_families(family, block):
    assert generic_family(block) == family


@pytest.mark.parametrize("block", PROSE)
def test_generic_rules_spare_news_prose(block):
    assert generic_family(block) is None


def test_appeal_run_continues_while_it_addresses_the_reader():
    blocks = [
        "The ministry confirmed the figures on Friday.",
        "A message from the Lakeside Tribune:",
        "Dear readers,",
        "We have reported on this city for ninety years, and we want to keep going.",
        "Your gift keeps our reporters on the street.",
        "Give now",
        "In other news, the port reopened on Saturday after repairs.",
    ]
    kept, removed = apply_generic_rules(blocks)
    assert kept == [blocks[0], blocks[-1]]
    assert [r.reason for r in removed] == ["generic:appeal"] * 5


def test_long_paragraphs_are_never_removed_by_rules():
    long_block = "Read more: " + "the committee examined the proposal in detail. " * 20
    assert generic_family(long_block) is None


def test_normalisation_folds_numbers_case_and_punctuation():
    assert normalise_block("12 Comments!") == normalise_block("3 comments")
    assert block_hash("Sign up  NOW.") == block_hash("sign up now")
    assert block_hash("Sign up now") != block_hash("Sign in now")


def test_apply_learned_removes_by_hash():
    learned = frozenset({block_hash("Subscribe to the Weekly")})
    kept, removed = apply_learned(["Real paragraph.", "subscribe to the weekly"], learned)
    assert kept == ["Real paragraph."]
    assert removed[0].reason == "learned"


def test_the_rules_prefilter_lets_through_every_block_a_rule_matches():
    from crawler.page.boilerplate import (
        _ALL_RULES,
        _ANY_ANCHORED_RULE,
        _ANY_OTHER_RULE,
        _anchored,
    )

    assert _anchored("^(?:a|b)c") and not _anchored("^a|b") and _anchored(r"^[|(]x") and not _anchored("a^")
    blocks = ["Sign up for our newsletter to get the news in your inbox", "Dear readers,", "Read more:",
              "12 comments", "Share this article on Facebook", "© 2024 The Paper", "_____",
              "The council voted on Tuesday.", "Support independent journalism today", "Photo: Jane Doe"]
    for block in blocks:
        by_rule = any(rule.search(block) for rule in _ALL_RULES)
        assert by_rule == bool(_ANY_ANCHORED_RULE.match(block) or _ANY_OTHER_RULE.search(block)), block
