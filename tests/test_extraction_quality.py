"""Issue 16: body rules that generalise, titles from the declared headline, authors as people."""
from __future__ import annotations

import trafilatura
from lxml import etree

from crawler.page import body as body_module
from crawler.page.body import (
    _continuation_paragraphs,
    _norm,
    _trim_page_dump,
    extract_body,
)
from crawler.page.htmlmeta import parse_html

PROSE = [
    "The harbour board approved the expansion plan on Tuesday after a two-year review of its costs and risks.",
    "Engineers expect the new quay to take four years to build, with the first berth opening in the third year.",
    "Local fishing crews, who had opposed an earlier version of the plan, said the new design left their moorings alone.",
    "The board will publish the full tender documents next month, and construction bids are due by the end of spring.",
    "Short answer from the mayor.",
    "The mayor said the port would stay open during the works, with night shifts kept to a minimum near the houses.",
]


def _page(paragraphs: list[str], extra: str = "") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><body><article><h1>Harbour expansion approved</h1>{ps}</article>{extra}</body></html>"


def _with_fake_runs(monkeypatch, fake):
    """Replace trafilatura's run for some modes; the others run for real."""
    real = trafilatura.bare_extraction

    def run(tree, **kwargs):
        result = fake(tree, real, **kwargs)
        return result if result is not None else real(tree, **kwargs)

    monkeypatch.setattr(body_module.trafilatura, "bare_extraction", run)


def test_a_collapsed_precision_run_does_not_drop_short_paragraphs(monkeypatch):
    html = _page(PROSE)

    def collapsed(tree, real, **kwargs):
        if kwargs.get("favor_precision"):  # precision mode keeps one long paragraph only
            return real(parse_html(f"<html><body><article><p>{PROSE[5]}</p></article></body></html>"), url=kwargs["url"])
        return None

    _with_fake_runs(monkeypatch, collapsed)
    text = extract_body(parse_html(html), "https://example.org/news/1", set()).text
    assert "Short answer from the mayor." in text
    assert PROSE[0] in text


def test_a_sound_precision_run_still_trims_the_edges(monkeypatch):
    teaser = "More stories from the coast"
    html = _page(PROSE[:4] + [teaser])

    def precise_without_teaser(tree, real, **kwargs):
        if kwargs.get("favor_precision"):
            return real(parse_html(_page(PROSE[:4])), url=kwargs["url"])
        return None

    _with_fake_runs(monkeypatch, precise_without_teaser)
    result = extract_body(parse_html(html), "https://example.org/news/1", set())
    assert teaser not in result.text
    assert any(r.reason == "structure:edge" and r.text == teaser for r in result.removed)


def test_fast_mode_falls_back_when_far_shorter_than_the_declared_article(monkeypatch):
    rail = ["Related: first headline", "Related: second headline"]
    html = _page(PROSE)

    def fast_picks_the_rail(tree, real, **kwargs):
        if kwargs.get("fast") and not kwargs.get("favor_precision"):
            return real(parse_html(_page(rail)), url=kwargs["url"], fast=True)
        return None

    _with_fake_runs(monkeypatch, fast_picks_the_rail)
    declared = sum(len(p) + 1 for p in PROSE)
    text = extract_body(parse_html(html), "https://example.org/news/1", set(), declared_chars=declared).text
    assert PROSE[0] in text and "first headline" not in text


def test_fast_mode_is_kept_when_it_has_the_article(monkeypatch):
    calls = []

    def count(tree, real, **kwargs):
        calls.append(kwargs.get("fast"))
        return None

    _with_fake_runs(monkeypatch, count)
    declared = sum(len(p) + 1 for p in PROSE)
    extract_body(parse_html(_page(PROSE)), "https://example.org/news/1", set(), declared_chars=declared)
    assert False not in calls  # no default-mode run


def test_preformatted_short_lines_are_not_a_page_dump():
    lines = [f"   {i}.  Section {i} ........ {i + 2}" for i in range(20)]
    el = etree.Element("p")
    el.text = "\n".join(lines)
    assert _trim_page_dump(el, anchors={"home", "contact"}) is None
    assert el.text.count("\n") == 19
    # the same block whose short lines are the page's links is a dump
    menu = etree.Element("p")
    menu.text = "\n".join([f"Section {i}" for i in range(20)] + PROSE[:2])
    assert _trim_page_dump(menu, anchors={_norm(f"Section {i}") for i in range(20)}) is not None
    assert menu.text.splitlines() == PROSE[:2]


def test_continuation_skips_teaser_cards_of_the_same_class():
    teaser = "A different story about the regional rail timetable and the changes planned for the winter service."
    tree = parse_html(
        "<html><body><div>"
        f"<div class='block'><p>{PROSE[0]}</p></div>"
        f"<div class='block'><h3><a href='/rail'>Rail timetable changes</a></h3><p>{teaser}</p></div>"
        f"<div class='block'><p><a href='/other'>{PROSE[2]}</a></p></div>"
        f"<div class='block'><p>{PROSE[1]}</p></div>"
        "</div></body></html>"
    )
    found = _continuation_paragraphs(tree, [_norm(PROSE[0])], [PROSE[0]])
    assert found == [PROSE[1]]


def test_continuation_skips_paragraphs_the_page_hides():
    hidden_card = "A video about the winter storms on the coast and how the harbour crews prepared for them."
    tree = parse_html(
        "<html><body><div>"
        f"<div class='block'><p>{PROSE[0]}</p></div>"
        f"<div class='block' style='display: none'><p>{hidden_card}</p></div>"
        f"<div class='block'><div hidden><p>{PROSE[2]}</p></div><p>{PROSE[1]}</p></div>"
        "</div></body></html>"
    )
    assert _continuation_paragraphs(tree, [_norm(PROSE[0])], [PROSE[0]]) == [PROSE[1]]


def test_the_precision_pass_runs_on_the_body_container_under_its_ancestors():
    from crawler.page.body import _body_shell

    rail = "".join(f"<li><a href='/s{i}'>Another story number {i} on the coast</a></li>" for i in range(30))
    html = (f"<html><body><nav><ul>{rail}</ul></nav><main class='site'><article class='story'>"
            f"<div class='story-body'><p>{PROSE[0]}</p><p>{PROSE[1]}</p></div><p>{PROSE[2]}</p></article>"
            f"<aside><ul>{rail}</ul></aside></main></body></html>")
    tree = parse_html(html.replace("</article>", "</article> tail text"))
    before = etree.tostring(tree)
    with _body_shell(tree, [PROSE[0], PROSE[1], PROSE[2]]) as shell:
        assert [el.tag for el in shell.iter()][:4] == ["html", "body", "main", "article"]
        assert shell.find(".//main").get("class") == "site" and shell.find(".//article").get("class") == "story"
        assert "Another story" not in shell.text_content() and PROSE[2] in shell.text_content()
    assert etree.tostring(tree) == before  # the container was lent: back in its place, with its tail
    # the ends found by the text that holds their opening when no block element has it alone
    tree = parse_html(f"<html><body><nav>{rail}</nav><article><div>{PROSE[0]}<br>more</div>"
                      f"<p>{PROSE[1]}</p></article></body></html>")
    with _body_shell(tree, [PROSE[0], PROSE[1]]) as shell:
        assert shell.find(".//nav") is None
    # ends not in the page: the whole page
    with _body_shell(tree, ["Nothing like this is on the page at all", PROSE[1]]) as shell:
        assert shell is tree
    # put back even when the pass fails
    before = etree.tostring(tree)
    try:
        with _body_shell(tree, [PROSE[0], PROSE[1]]):
            raise ValueError
    except ValueError:
        pass
    assert etree.tostring(tree) == before


def test_extract_article_reads_the_callers_tree_and_leaves_it_as_it_was():
    from crawler.page.extract import extract_article

    html = ("<html><head><title>Harbour plan approved</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Harbour plan approved</h1>{''.join(f'<p>{p}</p>' for p in PROSE)}"
            "<p>Published <time datetime='2024-03-05'>5 March</time></p></article></body></html>")
    tree = parse_html(html)
    before = etree.tostring(tree)
    from_tree = extract_article(None, "https://coast.example/news/harbour", tree=tree)
    assert etree.tostring(tree) == before
    from_html = extract_article(html, "https://coast.example/news/harbour")
    assert (from_tree.text, from_tree.title, from_tree.published_at) == (from_html.text, from_html.title, from_html.published_at)
    assert PROSE[0] in from_tree.text


def test_a_gallery_kept_as_body_is_removed_and_numbered_points_stay():
    from crawler.page.body import _mark_slideshows

    texts = ["1. Take the blankets off the bed", PROSE[0], "1/50 United goin down: the club lost", "2/50 Star Wars boosts economy",
             "3/50 Net-a-Porter founder leaves", "2. Check the peep hole", PROSE[1]]
    reasons = [None] * len(texts)
    _mark_slideshows(texts, reasons)
    assert reasons == [None, None, "structure:slideshow", "structure:slideshow", "structure:slideshow", None, None]
    # two counters are a caption pair, not a gallery
    reasons = [None, None]
    _mark_slideshows(["1/2 First view", "2/2 Second view"], reasons)
    assert reasons == [None, None]


def test_subheads_marked_up_as_h1_stay_and_the_headline_goes():
    from crawler.page.extract import extract_article

    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE[:3])
    more = "".join(f"<p>{p}</p>" for p in PROSE[3:])
    html = (
        "<html><head><title>Harbour expansion approved after two-year review | Coast Daily</title>"
        "<meta property='og:site_name' content='Coast Daily'></head><body><article>"
        f"<h1>Harbour expansion approved after two-year review</h1>{paragraphs}"
        f"<h1>What the crews said</h1>{more}</article></body></html>"
    )
    article = extract_article(html, "https://coast.example/news/harbour")
    assert article.title == "Harbour expansion approved after two-year review"
    assert "What the crews said" in article.text
    assert "Harbour expansion approved after two-year review" not in article.text


# --- titles -------------------------------------------------------------------

def test_the_declared_headline_wins_over_a_rewritten_title_tag():
    from crawler.page.titles import choose_title, site_keys

    sources = [("og", "Council approves harbour plan"), ("title", "Harbour plan: 7 things to know - World news | Coast Daily"),
               ("h1", "Council approves harbour plan")]
    assert choose_title(sources, site_keys(["Coast Daily"], "https://coast.example/a")) == "Council approves harbour plan"


def test_site_and_section_affixes_are_stripped_and_attributions_kept():
    from crawler.page.titles import choose_title, site_keys

    keys = site_keys(["Coast Daily"], "https://www.coastdaily.example/a")
    assert choose_title([("title", "Coast Daily - Council approves harbour plan")], keys) == "Council approves harbour plan"
    # a section prefix the h1 does not carry
    assert choose_title([("title", "Politik: Council approves harbour plan | Coast Daily"),
                         ("h1", "Council approves harbour plan")], keys) == "Council approves harbour plan"
    # a source named at the end of the headline, stated by every source, is not an affix
    wire = "Talks with new government stall – Bloomberg"
    assert choose_title([("og", wire), ("title", f"{wire} | Coast Daily"), ("h1", wire)], keys) == wire
    # a logo <h1> loses to the headline stated by the other sources
    assert choose_title([("og", "Council approves harbour plan"), ("h1", "Coast Daily"),
                         ("h1", "Council approves harbour plan")], keys) == "Council approves harbour plan"


def test_only_the_sites_own_name_is_stripped_after_a_headline():
    from crawler.page.titles import choose_title, site_keys

    keys = site_keys(["Coast Daily"], "https://www.coastdaily.example/a")
    headline = "Whale strandings worry coastal tribes"
    # an author or a series the publisher appends to og:title is part of its declared title,
    # even where the <h1> shows the headline alone
    assert choose_title([("og", f"{headline} | Jana Berger"), ("title", f"{headline} | Jana Berger | Coast Daily"),
                         ("h1", headline)], keys) == f"{headline} | Jana Berger"
    assert choose_title([("og", f"{headline} - Harbour Diaries"), ("h1", headline)], keys) == f"{headline} - Harbour Diaries"
    # the site's name is not: by og:site_name, or by the host name when nothing is declared
    assert choose_title([("og", f"{headline} | Coast Daily"), ("h1", headline)], keys) == headline
    assert choose_title([("title", f"{headline} - Wavelength"), ("h1", headline)],
                        site_keys([], "https://news.wavelength.co.uk/a")) == headline


def test_jsonld_name_counts_when_its_headline_is_a_description():
    from crawler.page.extract import extract_article

    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE)
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Article", '
          '"name": "Hermitian matrix", "headline": "matrix equal to its conjugate transpose"}</script>')
    html = (f"<html><head>{ld}</head>"
            f"<body><article><h1>Hermitian matrix</h1>{paragraphs}</article></body></html>")
    assert extract_article(html, "https://en.wikipedia.org/wiki/Hermitian_matrix").title == "Hermitian matrix"


def test_a_dublin_core_title_is_a_declared_source():
    from crawler.page.extract import extract_article

    # a standards body's <title> leads with the document's identifier; DC.title names the document
    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE)
    html = ("<html><head><title>draft-berger-harbour-sync-04 - Harbour Sync</title>"
            "<meta name='DC.Title' content='Harbour Sync'></head>"
            f"<body><pre>{paragraphs}</pre></body></html>")
    assert extract_article(html, "https://standards.example/doc/draft-berger-harbour-sync-04").title == "Harbour Sync"


# --- authors ------------------------------------------------------------------

def _authors(head: str, body: str = "", site: str = "Coast Daily"):
    from crawler.page.extract import extract_article

    paragraphs = "".join(f"<p>{p}</p>" for p in PROSE)
    html = (f"<html><head><title>Harbour plan approved</title><meta property='og:site_name' content='{site}'>{head}"
            f"</head><body><article><h1>Harbour plan approved</h1>{body}{paragraphs}</article></body></html>")
    article = extract_article(html, "https://coast.example/news/harbour")
    return article.authors, article.author_organisations


def _ld(author) -> str:
    import json

    return ("<script type='application/ld+json'>"
            + json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Harbour plan approved",
                          "author": author}) + "</script>")


def test_jsonld_people_in_every_shape():
    assert _authors(_ld({"@type": "Person", "givenName": "Jana", "familyName": "Berger"}))[0] == ["Jana Berger"]
    assert _authors(_ld([[{"@type": "Person", "name": "Jana Berger"}], "Tom Ruiz"]))[0] == ["Jana Berger", "Tom Ruiz"]
    graph = ("<script type='application/ld+json'>{\"@context\": \"https://schema.org\", \"@graph\": ["
             "{\"@type\": \"NewsArticle\", \"headline\": \"Harbour plan approved\", \"author\": {\"@id\": \"#p1\"}},"
             "{\"@type\": \"Person\", \"@id\": \"#p1\", \"name\": \"Jana Berger\"}]}</script>")
    assert _authors(graph)[0] == ["Jana Berger"]


def test_organisations_are_kept_apart_and_only_when_no_person_is_named():
    assert _authors(_ld({"@type": "Organization", "name": "Coast Media Group"})) == ([], ["Coast Media Group"])
    assert _authors("<meta name='author' content='AFP'>") == ([], ["AFP"])
    assert _authors("<meta name='author' content='Coast Daily'>") == ([], ["Coast Daily"])
    # an organisation beside a person: the person only
    assert _authors("<meta name='author' content='Jana Berger, Reuters'>") == (["Jana Berger"], [])


def test_an_organisation_read_whole_and_split_is_listed_once():
    # JSON-LD names the desk whole; the byline markup names it again, split at its role word
    creator = ("<script type='application/ld+json'>{\"@type\": \"NewsArticle\", "
               "\"headline\": \"Harbour plan approved\", \"creator\": \"Our Foreign Staff\"}</script>")
    assert _authors(creator, "<p class='byline'>Our Foreign Staff</p>") == ([], ["Our Foreign Staff"])


def test_degrees_and_outlets_are_cut_from_a_name_not_kept_as_names():
    from crawler.page.authors import split_byline

    assert split_byline("By Jana Berger, Ph.D., and Tom Ruiz, MD") == ["Jana Berger", "Tom Ruiz"]
    assert split_byline("Tom Ruiz M.D.") == ["Tom Ruiz"]
    assert split_byline("Yo-Yo Ma") == ["Yo-Yo Ma"]  # a surname that spells a degree stays
    assert split_byline("Jana Berger for The Coast Daily, Lisbon") == ["Jana Berger"]
    assert split_byline("Center for Harbour Studies") == []  # an organisation, not "Center"
    assert split_byline("Tom Ruiz, Jr.") == ["Tom Ruiz Jr"]


def test_every_source_is_tried_until_one_names_a_person():
    # an e-mail address as the meta author, the name in the byline markup
    head = "<meta name='author' content='newsdesk@coast.example'>"
    body = "<p class='byline'>By Jana Berger 30 August 2023 • 4:45pm</p>"
    assert _authors(head, body) == (["Jana Berger"], [])


def test_bylines_are_trimmed_not_discarded():
    from crawler.page.authors import split_byline

    assert split_byline("By Jana Berger 30 August 2023 • 4:45pm") == ["Jana Berger"]
    assert split_byline("Jana Berger (obe)") == ["Jana Berger"]
    assert split_byline("Show Authors") == []
    from crawler.page.extract import clean_authors

    # what follows a role is an affiliation; an organisation after "and" is not a person
    assert clean_authors(["By Jana Berger, Senior Staff Technologist, Coast Speech, Privacy and Technology Project"],
                         ["Coast Daily"]) == ["Jana Berger"]
    assert split_byline("Ben Silverman Games Editor") == ["Ben Silverman"]
    assert split_byline("Par Martin Untersinger (avec Damien Leloup et Morgane Tual)") == [
        "Martin Untersinger", "Damien Leloup", "Morgane Tual"]
    assert split_byline("jana.berger@coast.example") == []
    assert split_byline("Theresa May") == ["Theresa May"]


def test_a_quoted_social_post_stays_in_place_and_a_sidebar_feed_does_not():
    post = "The quay plans are out: four berths and a new fish market by 2030."
    feed = "Weekend ferry times change from Saturday, see the new timetable."
    html = (
        "<html><body><article><h1>Harbour expansion approved</h1>"
        f"<p>{PROSE[0]}</p><p>{PROSE[1]}</p>"
        "<div class='social-media-embed'><blockquote class='twitter-tweet'>"
        f"<p lang='en'>{post}</p>— Harbour Board (@harbourboard) <a href='https://x.example/1'>May 2, 2024</a>"
        "</blockquote></div>"
        f"<p>{PROSE[2]}</p><p>{PROSE[3]}</p><p>{PROSE[5]}</p></article>"
        f"<aside><blockquote class='twitter-tweet'><p>{feed}</p></blockquote></aside></body></html>"
    )
    text = extract_body(parse_html(html), "https://example.com/a", set()).text
    assert post in text and text.index(PROSE[1]) < text.index(post) < text.index(PROSE[2])
    assert feed not in text


def test_a_paragraph_skipped_between_two_body_paragraphs_is_put_back_in_place():
    from crawler.page.body import _skipped_prose

    skipped = "Winner of the harbour prize in 2019, the design keeps the old quay walls and adds a public walk along the water."
    tree = parse_html(
        "<html><body><div class='story'>"
        f"<p>{PROSE[0]}</p><h3>The design</h3><p id='NavQx'>{skipped}</p><p>{PROSE[1]}</p>"
        "<p>#gallery { margin: auto; } .gallery-item { float: left; width: 33%; } .gallery-caption { margin: 0 }</p>"
        f"<p>{PROSE[2]}</p></div>"
        "<div class='more'><p>A different story about the regional rail timetable, in the box after the article.</p></div>"
        "</body></html>"
    )
    body = etree.fromstring(f"<body><p>{PROSE[0]}</p><head>The design</head><p>{PROSE[1]}</p><p>{PROSE[2]}</p></body>")
    blocks = list(body)
    keys = [_norm(b.text) for b in blocks]
    paragraph_keys = {p: _norm(p.text_content()) for p in tree.iter("p") if len(p.text_content()) >= 80}
    found = _skipped_prose(paragraph_keys, blocks, keys, body)
    assert [(anchor.text, text, tag) for anchor, text, tag in found] == [("The design", skipped, "p")]


def test_sub_heads_between_body_paragraphs_are_put_back_and_a_linked_one_is_not():
    from crawler.page.body import _skipped_prose

    tree = parse_html(
        "<html><body><div class='post'>"
        f"<p>{PROSE[0]}</p><h3>The new quay</h3><p>{PROSE[1]}</p>"
        f"<h3><a href='/rail'>Rail timetable changes</a></h3><p>{PROSE[2]}</p>"
        "</div></body></html>"
    )
    body = etree.fromstring(f"<body><p>{PROSE[0]}</p><p>{PROSE[1]}</p><p>{PROSE[2]}</p></body>")
    blocks = list(body)
    paragraph_keys = {p: _norm(p.text_content()) for p in tree.iter("p") if len(p.text_content()) >= 80}
    found = _skipped_prose(paragraph_keys, blocks, [_norm(b.text) for b in blocks], body)
    assert [(anchor.text, text, tag) for anchor, text, tag in found] == [(PROSE[0], "The new quay", "head")]


def test_the_sites_name_in_full_or_abbreviated_by_its_host_is_an_affix():
    from crawler.page.titles import choose_title, site_keys

    # nothing declared: the host names the site, in full after it ("Entertainment") ...
    keys = site_keys([], "https://harbourcannon.example/about-bugs/")
    assert choose_title([("title", "About bugs – Harbour Cannon Entertainment"), ("h1", "About bugs")], keys) == "About bugs"
    # ... or by its initials ("nytimes" for "The New York Times", "latimes" for "Los Angeles Times")
    assert choose_title([("title", "Council approves harbour plan - The New York Times")],
                        site_keys([], "https://www.nytimes.com/2019/a.html")) == "Council approves harbour plan"
    assert choose_title([("title", "Council approves harbour plan - Los Angeles Times")],
                        site_keys([], "https://www.latimes.com/a")) == "Council approves harbour plan"
    # a headline that starts with the site's name is no affix: it is too long for a name
    assert choose_title([("title", "Coast Daily - Harbour Cannon fires its last salute at dawn")],
                        site_keys(["Coast Daily"], "https://harbourcannon.example/a")) == "Harbour Cannon fires its last salute at dawn"


def test_the_full_width_bar_separates_a_site_name_without_spaces():
    from crawler.page.titles import choose_title, site_keys

    keys = site_keys(["コースト新聞"], "https://www.coast-shimbun.example/a")
    assert choose_title([("og", "港の計画が承認された｜コースト新聞")], keys) == "港の計画が承認された"
    assert choose_title([("title", "港の計画が承認された｜コースト新聞"), ("h1", "港の計画が承認された")], keys) == "港の計画が承認された"
