"""What the web sends, made storable: the one step every stored value passes.

Pages carry NUL bytes, other control characters and lone surrogates (JSON-LD's
``"\\ud800"`` decodes to one), and metadata of any length. SQLite stores most of
that as it is; PostgreSQL refuses a NUL in text and a value longer than its
column, and neither can encode a lone surrogate as UTF-8. One refused field used
to lose the whole article on PostgreSQL only. So the store cleans every field
here, before any write, the same way on every database:

- control characters (C0 but tab, line feed and carriage return; DEL) and lone
  surrogates are removed from every string, JSON lists and objects included;
- metadata is cut to a documented cap (``NEWSCRAWL_MAX_*_CHARS``), never longer
  than its column; each cap hit is reported so that the run can count it;
- a URL longer than its cap is not truncated (a cut URL names another page):
  the article is skipped as ``url_too_long`` instead.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from crawler.page.extract import ExtractedArticle, ExtractionError

# C0 controls but \t \n \r, DEL, and UTF-16 surrogates (only ever lone in a Python str).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

# Column lengths of models.Article (and FetchState): a cap never exceeds them.
COLUMN_CHARS = {"site_name": 255, "section": 255, "site": 255, "language": 16, "canonical_url": 2048,
                "raw_encoding": 64}


def clean_text(value: str) -> str:
    """``value`` without the characters no database should be handed."""
    return _UNSTORABLE.sub("", value) if _UNSTORABLE.search(value) else value


def clean_json(value: Any) -> Any:
    """``clean_text`` applied to every string inside a JSON value (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class StoreLimits:
    """Characters (and list items) stored per field; 0 means only the column's own limit."""

    title_chars: int = 1000
    author_chars: int = 255  # each author name, and each tag
    list_items: int = 100  # authors, and tags, per article
    site_name_chars: int = 255
    section_chars: int = 255
    url_chars: int = 2048

    @classmethod
    def from_settings(cls, settings) -> StoreLimits:
        return cls(
            title_chars=settings.getint("NEWSCRAWL_MAX_TITLE_CHARS"),
            author_chars=settings.getint("NEWSCRAWL_MAX_AUTHOR_CHARS"),
            list_items=settings.getint("NEWSCRAWL_MAX_LIST_ITEMS"),
            site_name_chars=settings.getint("NEWSCRAWL_MAX_SITE_NAME_CHARS"),
            section_chars=settings.getint("NEWSCRAWL_MAX_SECTION_CHARS"),
            url_chars=settings.getint("NEWSCRAWL_MAX_URL_CHARS"),
        )


def _cap(cap: int, column: str | None = None) -> int | None:
    """The effective cap: the setting, never above the column (None: no limit)."""
    limit = COLUMN_CHARS.get(column) if column else None
    if cap > 0:
        limit = min(cap, limit) if limit else cap
    return limit


class _Capper:
    def __init__(self) -> None:
        self.hit: list[str] = []

    def text(self, value: str | None, cap: int | None, name: str) -> str | None:
        if value is None:
            return None
        value = clean_text(value)
        if cap is not None and len(value) > cap:
            self.hit.append(name)
            value = value[:cap].rstrip()
        return value

    def items(self, values, cap: int | None, count: int | None, name: str) -> list[str]:
        cleaned = [v for v in (self.text(str(v), cap, name) for v in values) if v]
        if count is not None and len(cleaned) > count:
            self.hit.append(f"{name}_count")
            cleaned = cleaned[:count]
        return cleaned


def sanitize_article(article: ExtractedArticle, limits: StoreLimits) -> tuple[ExtractedArticle, list[str]]:
    """The article as it can be stored, and the names of the caps it hit (one per field)."""
    capper = _Capper()
    image = capper.text(article.image, None, "image")
    url_cap = _cap(limits.url_chars)
    if image is not None and url_cap is not None and len(image) > url_cap:
        capper.hit.append("image_url")
        image = None  # a cut URL points nowhere
    cleaned = dataclasses.replace(
        article,
        title=capper.text(article.title, _cap(limits.title_chars), "title"),
        authors=capper.items(article.authors, _cap(limits.author_chars), _cap(limits.list_items), "authors"),
        language=capper.text(article.language, _cap(0, "language"), "language"),
        text=clean_text(article.text),
        canonical_url=None if article.canonical_url is None else clean_text(article.canonical_url),
        site_name=capper.text(article.site_name, _cap(limits.site_name_chars, "site_name"), "site_name"),
        description=None if article.description is None else clean_text(article.description),
        image=image,
        section=capper.text(article.section, _cap(limits.section_chars, "section"), "section"),
        tags=capper.items(article.tags, _cap(limits.author_chars), _cap(limits.list_items), "tags"),
        blocks=[clean_text(b) for b in article.blocks],
        removed=[dataclasses.replace(r, text=clean_text(r.text)) for r in article.removed],
        block_hashes=list(article.block_hashes),  # the hashes of the page's own blocks, as learned
    )
    return cleaned, sorted(set(capper.hit))


def storable_url(url: str, limits: StoreLimits, column: str = "canonical_url") -> str:
    """``url`` cleaned; ExtractionError ``url_too_long`` when it is over its cap."""
    url = clean_text(url)
    cap = _cap(limits.url_chars, column)
    if cap is not None and len(url) > cap:
        raise ExtractionError("url_too_long", f"{len(url)} characters, over the cap of {cap}")
    return url
