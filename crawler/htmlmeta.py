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

import charset_normalizer
from lxml import html as lxml_html
from w3lib.encoding import html_to_unicode

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


_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False)


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page the way browsers do: BOM, then the HTTP charset, then
    <meta charset>, then detection from the bytes (charset_normalizer), since
    many sites (Russian ones in windows-1251 especially) declare nothing or
    declare the wrong charset."""
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_detect_encoding)
    return text, encoding


def _detect_encoding(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[:65536]).best()
    return best.encoding if best is not None else None


def parse_html(html: str | bytes) -> lxml_html.HtmlElement:
    if isinstance(html, bytes):
        html, _ = decode_html(html)
    # lxml refuses str input that carries an XML encoding declaration, so feed it UTF-8 bytes.
    return lxml_html.document_fromstring(html.encode("utf-8") or b"<html></html>", parser=_PARSER)


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
