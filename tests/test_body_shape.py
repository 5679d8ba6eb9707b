"""crawler.page.classify.body_shape on canned pages: which element is the body's container,
and what is counted in it and around it."""
from crawler.page.classify import _ascii_word_chars, _leaf_blocks, text_key, body_shape
from crawler.page.htmlmeta import parse_html

PARAGRAPH = "The council voted on Tuesday to approve the new budget for the city schools and its parks"


def _page(body: str):
    return parse_html(f"<html><head><title>t</title></head><body>{body}</body></html>")


def test_the_container_is_the_deepest_of_wrappers_with_the_same_text():
    tree = _page(
        '<div id="outer"><div id="inner"><article id="story">'
        + "".join(f"<p>{PARAGRAPH} {i}.</p>" for i in range(4))
        + '</article></div><a href="/x">Other news of the day here</a></div>'
    )
    shape = body_shape(tree, [f"{PARAGRAPH} {i}." for i in range(4)])
    # <article> and its wrapper #inner have the same text: the first of them in document order
    # of the matched lines' ancestors, which is the deepest, <article>.
    assert shape.container_words == 4 * (len(PARAGRAPH.split()) + 1)
    assert shape.link_words == 0
    # Around it: #inner, the same text, so no links either.
    assert shape.around_link_words == 0
    assert shape.container_prose == 4
    assert shape.card_teasers == 0


def test_links_around_the_container_are_counted_in_its_parent():
    tree = _page(
        '<div id="region"><div id="story">' + "".join(f"<p>{PARAGRAPH} {i}.</p>" for i in range(3)) + "</div>"
        + "".join(f'<p><a href="/{i}">A headline link to another story {i}</a></p>' for i in range(5)) + "</div>"
    )
    shape = body_shape(tree, [f"{PARAGRAPH} {i}." for i in range(3)])
    assert shape.link_words == 0
    assert shape.around_link_words == 5 * 7
    assert shape.around_headline_links == 5


def test_text_in_a_custom_element_is_a_block_of_its_own():
    tree = _page(f"<story-body><story-paragraph>{PARAGRAPH}.</story-paragraph><story-paragraph>{PARAGRAPH} again."
                 "</story-paragraph></story-body>")
    assert [el.tag for el in _leaf_blocks(tree)].count("story-paragraph") == 2
    shape = body_shape(tree, [f"{PARAGRAPH}.", f"{PARAGRAPH} again."])
    assert not shape.dumped and shape.container_found


def test_a_line_joining_several_elements_is_found_in_the_element_holding_them():
    # A card's headline and date, joined by trafilatura into one line: no leaf block has that text.
    tree = _page(f'<section><div class="card"><span>{PARAGRAPH}</span> <time>May 3, 2024</time></div>'
                 + "<div>" + "x " * 500 + "</div></section>")
    shape = body_shape(tree, [f"{PARAGRAPH} May 3, 2024"])
    assert shape.container_found and shape.container_words == len(PARAGRAPH.split()) + 3


def test_ascii_word_chars_bound_the_text_key():
    for text in ("Hello, world!", "  naïve café — 42_b ", "Ǆ İstanbul ＫＫ", "中文 text"):
        assert _ascii_word_chars(text) <= len(text_key(text))
    assert _ascii_word_chars("a-b c_d 9!") == 6
