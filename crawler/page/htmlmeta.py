"""Reading the metadata a page declares: JSON-LD, meta tags, <html lang>.

Pure functions over an lxml tree, shared by the article classifier and the
extractor. trafilatura reads some of this too, but keeps only the date (no
time, no zone) and joins authors into one string, so we read the sources
ourselves where precision matters.
"""
from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Iterator
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from crawler.page.encoding import decode_html

logger = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "liveblogposting",
    "socialmediaposting",
    "report",
    "scholarlyarticle",
}
LISTING_TYPES = {
    "collectionpage",
    "itemlist",
    "searchresultspage",
    "aboutpage",
    "contactpage",
    "profilepage",
    "faqpage",
}


# C0 controls but tab, line feed, form feed and carriage return; DEL. In UTF-8 each is one
# byte that no other character's encoding contains: deleting them from the encoded page is
# deleting them from its text.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False)


def _text_content(self) -> str:
    """HtmlMixin.text_content, without its XPath: the same libxml2 call
    (xmlNodeGetContent: every text node below the element, in document order) that
    XPath's string() makes, minus the set-up of an XPath context on every call, which
    is most of its cost. Half the time on the benchmark pages' elements."""
    return etree.tostring(self, method="text", encoding=str, with_tail=False)


def _fast_text_class(cls: type) -> type:
    return type(cls.__name__, (cls,), {"text_content": _text_content, "__module__": __name__})


def _html_class_lookup() -> etree.ElementNamespaceClassLookup:
    """lxml.html's element classes (HtmlElement, FormElement, InputElement...), chosen in C,
    each with a faster text_content (_text_content).

    lxml.html.HTMLParser picks each element's class with a Python callback
    (HtmlElementClassLookup.lookup), called whenever lxml makes a Python object for an
    element: thousands of times a page, in our code and trafilatura's, which copies and walks
    the tree again on every run. A namespace lookup holding the same tag -> class table gives
    the same classes without the callback (the parser lower-cases HTML tag names already).
    text_content runs for most elements of a page, in our code and in trafilatura's (link
    density, pruning), on these trees and on the copies trafilatura and htmldate make."""
    lookup = etree.ElementNamespaceClassLookup(etree.ElementDefaultClassLookup(
        element=_fast_text_class(lxml_html.HtmlElement), comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction, entity=lxml_html.HtmlEntity))
    classes = lxml_html.HtmlElementClassLookup()._element_classes
    lookup.get_namespace(None).update({tag: _fast_text_class(cls) for tag, cls in classes.items()})
    return lookup


_PARSER.set_element_class_lookup(_html_class_lookup())


def parse_html(html: str | bytes) -> lxml_html.HtmlElement:
    if isinstance(html, bytes):
        html, _ = decode_html(html)
    # lxml refuses str input that carries an XML encoding declaration, so feed it UTF-8 bytes.
    # Without control characters: libxml2 ends the document at a NUL, and one BEL in a heading
    # left trafilatura with no text, so a single one would hide the whole page. Browsers show
    # none of them (HTML parse errors). bytes.translate drops them in one C pass, three times
    # faster than a regex search over the text.
    data = html.encode("utf-8").translate(None, _CONTROL_BYTES)
    return lxml_html.document_fromstring(data or b"<html></html>", parser=_PARSER)


# XHTML serialisations wrap script text in a CDATA section, sometimes behind a JavaScript
# comment ("//<![CDATA[ ... //]]>"); in HTML parsing it stays in the text and hides the JSON.
_CDATA_WRAPPER = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")


# The JSON-LD objects of each parsed page, parsed once: the classifier, the extractor and the
# byline reader each ask for them (~0.75 ms a page each time). See _meta_maps.
_jsonld: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def jsonld_objects(tree) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, with @graph and lists flattened.

    Broken JSON-LD is common (trailing commas, raw newlines); such blocks are
    skipped, not fatal. A new list each call; the objects are shared: read them, do not edit them.
    """
    try:
        return list(_jsonld[tree])
    except KeyError:
        pass
    found = _jsonld[tree] = _parsed_jsonld(tree)
    return list(found)


def _parsed_jsonld(tree) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = _CDATA_WRAPPER.sub("", script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            logger.debug("Skipping unparsable JSON-LD block")
            continue
        found.extend(_flatten(data))
    return found


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _flatten(entry)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten(data["@graph"])


def jsonld_types(obj: dict[str, Any]) -> set[str]:
    types = obj.get("@type", [])
    if isinstance(types, str):
        types = [types]
    return {t.lower() for t in types if isinstance(t, str)}


def article_jsonld(tree) -> dict[str, Any] | None:
    for obj in jsonld_objects(tree):
        if jsonld_types(obj) & ARTICLE_TYPES:
            return obj
    return None


def ld_text(value) -> str | None:
    """A JSON-LD text value (a string, or the first of a list), whitespace collapsed."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


_META_ATTRS = ("property", "name", "itemprop")
# One {(attribute, name): content} map per parsed page, built on first use: the extractor
# and the classifier ask for some 20 names, and an XPath search per name and attribute
# cost about 2 ms a page. Pages are never edited after parsing (trafilatura works on a copy).
_meta_maps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _meta_map(tree) -> dict[tuple[str, str], str]:
    try:
        return _meta_maps[tree]
    except KeyError:
        pass
    found: dict[tuple[str, str], str] = {}
    for el in tree.iter("meta"):
        content = (el.get("content") or "").strip()
        if not content:
            continue
        for attr in _META_ATTRS:
            key = el.get(attr)
            if key is not None:
                found.setdefault((attr, key), content)  # the first in document order wins
    _meta_maps[tree] = found
    return found


def meta_content(tree, *names: str) -> str | None:
    """The first non-empty <meta> content for any of ``names`` (property, name or itemprop)."""
    found = _meta_map(tree)
    for name in names:
        for attr in _META_ATTRS:
            value = found.get((attr, name))
            if value:
                return value
    return None


def link_href(tree, rel: str) -> str | None:
    for el in tree.xpath("//link[@rel and @href]"):
        if rel in el.get("rel", "").lower().split():
            href = el.get("href", "").strip()
            if href:
                return href
    return None


def html_language(tree) -> str | None:
    """Primary language subtag declared by the page (``en`` for ``en-GB``)."""
    candidates = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta_content(tree, "og:locale"),
        _http_equiv(tree, "content-language"),
        meta_content(tree, "language", "dc.language", "DC.language"),
    ]
    for value in candidates:
        if value:
            primary = value.strip().replace("_", "-").split("-")[0].split(",")[0].strip().lower()
            if primary.isalpha() and 2 <= len(primary) <= 3:
                return primary
    return None


def _http_equiv(tree, name: str) -> str | None:
    for el in tree.xpath("//meta[@http-equiv and @content]"):
        if el.get("http-equiv", "").lower() == name:
            return el.get("content")
    return None
