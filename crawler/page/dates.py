"""Publication times: ISO 8601 parsing, what a page declares, and htmldate's reading.

Kept apart from extraction (and from trafilatura) because feeds, sitemaps, WARC
headers and settings parse dates too, in processes that never extract a page.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from htmldate import find_date

from crawler.page.htmlmeta import ld_text, meta_content

logger = logging.getLogger(__name__)


def declared_published(tree, ld: dict) -> dt.datetime | None:
    candidates = [
        ld_text(ld.get("datePublished")),
        meta_content(tree, "article:published_time", "og:article:published_time", "datePublished",
                     "pubdate", "publishdate", "date", "dc.date", "DC.date.issued", "sailthru.date"),
    ]
    candidates += tree.xpath("//article//time/@datetime | //time[@itemprop='datePublished']/@datetime | //time[contains(@class,'publish')]/@datetime")
    for value in candidates:
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def htmldate_published(tree) -> dt.datetime | None:
    try:
        found = find_date(
            tree,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
            original_date=True,
            # Only dates the page states as such (markup, URL, <time>); a date
            # mentioned in the prose is not the publication date. Missing stays missing.
            extensive_search=False,
        )
    except Exception:  # htmldate raises on some malformed markup; a missing date is not an error
        logger.debug("htmldate failed", exc_info=True)
        return None
    return parse_datetime(found)


def parse_datetime(value: str | None) -> dt.datetime | None:
    """ISO 8601 to an aware datetime; a value without a zone is taken as UTC,
    a date alone as midnight UTC."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if not 1990 <= parsed.year <= dt.datetime.now().year + 1:
        return None
    return parsed
