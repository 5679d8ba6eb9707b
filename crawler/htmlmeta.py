"""Reading the metadata a page declares: JSON-LD, meta tags, <html lang>.

Pure functions over an lxml tree, shared by the article classifier and the
extractor. trafilatura reads some of this too, but keeps only the date (no
time, no zone) and joins authors into one string, so we read the sources
ourselves where precision matters.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from lxml import html as lxml_html

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


def parse_html(html: str | bytes) -> lxml_html.HtmlElement:
    if isinstance(html, str):
        # lxml refuses str input that carries an XML encoding declaration.
        html = html.encode("utf-8")
        parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
    else:
        parser = lxml_html.HTMLParser(remove_comments=True)
    tree = lxml_html.document_fromstring(html or b"<html></html>", parser=parser)
    return tree


def jsonld_objects(tree) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, with @graph and lists flattened.

    Broken JSON-LD is common (trailing commas, raw newlines); such blocks are
    skipped, not fatal.
    """
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
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


def meta_content(tree, *names: str) -> str | None:
    """The first non-empty <meta> content for any of ``names`` (property, name or itemprop)."""
    for name in names:
        for attr in ("property", "name", "itemprop"):
            values = tree.xpath(f'//meta[@{attr}="{name}"]/@content')
            for value in values:
                if value and value.strip():
                    return value.strip()
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
