"""The crawl's configuration: Scrapy settings read once, checked, and turned into the
options objects of each stage (:class:`CrawlConfig`).

A value that cannot work must be refused before the crawl starts, with the
setting's name and what it accepts: ``CONCURRENT_REQUESTS_PER_DOMAIN=0`` would
otherwise hang the crawl without a word, and ``DOWNLOAD_DELAY=abc`` would fail
it deep inside Scrapy. A misspelt name would otherwise be accepted silently.
Every command builds its :class:`CrawlConfig` before it starts, so a bad value
is one line and exit 2 whichever command was given it (crawler.ops.cli).
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings
from scrapy.settings import default_settings as scrapy_defaults

from crawler.page.dates import parse_datetime
from crawler.page.extract import ExtractionOptions
from crawler.page.sanitize import StoreLimits
from crawler.store.learning import LearningSettings
from dedupe import DedupeSettings
from models.db import redact, resolve_database_url


class SettingError(ValueError):
    """A setting that is unknown or has a value that cannot work."""


def _number(kind: type, low: float | None = None, high: float | None = None, low_open: bool = False):
    """A check of an int or float setting within [low, high] (low excluded when ``low_open``)."""
    if kind is int:
        words = "a whole number"
    else:
        words = "a number"
    if low is not None and high is not None:
        words += f" from {low} to {high}" if not low_open else f" above {low}, at most {high}"
    elif low is not None:
        words += f" above {low}" if low_open else f" of at least {low}"

    def check(value) -> str | None:
        try:
            number = kind(value) if not isinstance(value, str) else kind(value.strip())
        except (TypeError, ValueError):
            return words
        if isinstance(value, bool) or (low is not None and (number <= low if low_open else number < low)):
            return words
        if high is not None and number > high:
            return words
        return None

    return check


def _choice(*allowed: str) -> Callable:
    def check(value) -> str | None:
        return None if str(value).upper() in allowed else "one of " + ", ".join(allowed)

    return check


def _boolean(value) -> str | None:
    if isinstance(value, bool) or str(value).strip() in ("0", "1", "True", "False", "true", "false"):
        return None
    return "True or False"


# The settings newscrawl relies on, and the values that can work.
RULES: dict[str, Callable] = {
    "CONCURRENT_REQUESTS": _number(int, 1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": _number(int, 1),
    "CONCURRENT_REQUESTS_PER_IP": _number(int, 0),
    "CONCURRENT_ITEMS": _number(int, 1),
    "DOWNLOAD_DELAY": _number(float, 0),
    "DOWNLOAD_TIMEOUT": _number(float, 0, low_open=True),
    "DOWNLOAD_MAXSIZE": _number(int, 0),
    "DOWNLOAD_WARNSIZE": _number(int, 0),
    "RETRY_TIMES": _number(int, 0),
    "REDIRECT_MAX_TIMES": _number(int, 0),
    "DEPTH_LIMIT": _number(int, 0),
    "AUTOTHROTTLE_START_DELAY": _number(float, 0),
    "AUTOTHROTTLE_MAX_DELAY": _number(float, 0, low_open=True),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": _number(float, 0, low_open=True),
    "CLOSESPIDER_TIMEOUT": _number(float, 0),
    "CLOSESPIDER_ITEMCOUNT": _number(int, 0),
    "CLOSESPIDER_PAGECOUNT": _number(int, 0),
    "LOG_LEVEL": _choice("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
    "NEWSCRAWL_LISTING_DEPTH": _number(int, 1),
    "NEWSCRAWL_EXTRACT_PROCESSES": _number(int, -1),
    "NEWSCRAWL_MIN_TEXT_CHARS": _number(int, 1),
    "NEWSCRAWL_BOILERPLATE_MIN_PAGES": _number(int, 2),  # one page cannot show repetition
    "NEWSCRAWL_BOILERPLATE_MIN_SHARE": _number(float, 0, 1, low_open=True),
    "NEWSCRAWL_DEDUPE_THRESHOLD": _number(float, 0, 1, low_open=True),
    "NEWSCRAWL_SHINGLE_SIZE": _number(int, 1),
    "NEWSCRAWL_NUM_PERM": _number(int, 16),
    "NEWSCRAWL_MAX_FAILURE_SHARE": _number(float, 0, 1),
    "NEWSCRAWL_PROGRESS_INTERVAL": _number(float, 0, low_open=True),
    "NEWSCRAWL_DEAD_END_DAYS": _number(float, 0),
    "NEWSCRAWL_DEAD_END_FAILURES": _number(int, 1),
    "NEWSCRAWL_DB_RETRY_SECONDS": _number(float, 0),
    "NEWSCRAWL_STORE_BATCH_SIZE": _number(int, 1),
    "NEWSCRAWL_STORE_BATCH_SECONDS": _number(float, 0),
}

# Read by components with a default in code rather than in a settings module.
_EXTRA_NAMES = {"NEWSCRAWL_ALLOWED_PRIVATE_HOSTS", "DATABASE_URL"}
# scrapy-redis (distributed mode) reads these families of names.
_EXTRA_PREFIXES = ("SCHEDULER_", "REDIS_", "DUPEFILTER_")


def known_setting_names() -> set[str]:
    from crawler import settings as project

    names = {n for n in dir(scrapy_defaults) if n.isupper()} | {n for n in dir(project) if n.isupper()}
    try:
        from scrapy_redis import defaults as redis_defaults

        names |= {n for n in dir(redis_defaults) if n.isupper()}
    except ImportError:  # pragma: no cover - a dependency, but distributed mode is optional
        pass
    return names | _EXTRA_NAMES


def _problem(name: str, value) -> str | None:
    rule = RULES.get(name)
    if rule is not None:
        return rule(value)
    default = getattr(scrapy_defaults, name, None)
    from crawler import settings as project

    default = getattr(project, name, default)
    if isinstance(default, bool):
        return _boolean(value)
    if isinstance(default, int):
        return _number(int)(value)
    if isinstance(default, float):
        return _number(float)(value)
    return None


def check_overrides(overrides: Mapping[str, object]) -> None:
    """Refuse unknown names and values that cannot work, in ``NAME=VALUE`` overrides."""
    known = known_setting_names()
    for name, value in overrides.items():
        if name not in known and not name.startswith(_EXTRA_PREFIXES):
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else " (see crawler/settings.py and Scrapy's settings)"
            raise SettingError(f"unknown setting {name}{hint}")
        problem = _problem(name, value)
        if problem:
            raise SettingError(f"setting {name}={value} is invalid: expected {problem}")


def check_settings(settings: BaseSettings) -> None:
    """Refuse values that cannot work among the settings newscrawl relies on, whatever set them
    (``scrapy crawl news -s``, a settings module, the CLI)."""
    for name in RULES:
        value = settings.get(name)
        if value is None:
            continue
        problem = RULES[name](value)
        if problem:
            raise SettingError(f"setting {name}={value} is invalid: expected {problem}")


def log_level_number(name: str) -> int:
    return logging.getLevelName(str(name).upper())


@dataclass(frozen=True)
class CrawlConfig:
    """Every newscrawl setting a crawl, an ingest or a reprocess reads, read once from the
    Scrapy settings and checked there. Components take what they need from it
    (``CrawlConfig.of(crawler)``) instead of reading settings one by one."""

    database_url: str
    listing_depth: int
    refresh: bool
    since: dt.datetime | None
    max_decompressed: int  # DOWNLOAD_MAXSIZE, also the limit for gzip files we inflate ourselves
    max_links_per_page: int
    max_listing_entries: int
    max_failure_share: float
    extraction: ExtractionOptions
    dedupe: DedupeSettings
    learning: LearningSettings
    limits: StoreLimits
    store_batch_size: int  # articles per storage transaction
    store_batch_seconds: float  # how long a batch waits for more after its first article

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlConfig:
        """Raises :class:`SettingError` naming the setting when a value cannot work."""
        check_settings(settings)
        since_text = settings.get("NEWSCRAWL_SINCE")
        since = parse_datetime(since_text) if since_text else None
        if since_text and since is None:
            raise SettingError(f"setting NEWSCRAWL_SINCE={since_text} is invalid: expected an ISO 8601 date")
        return cls(
            database_url=resolve_database_url(settings.get("DATABASE_URL")),
            listing_depth=settings.getint("NEWSCRAWL_LISTING_DEPTH"),
            refresh=settings.getbool("NEWSCRAWL_REFRESH"),
            since=since,
            max_decompressed=settings.getint("DOWNLOAD_MAXSIZE"),
            max_links_per_page=settings.getint("NEWSCRAWL_MAX_LINKS_PER_PAGE"),
            max_listing_entries=settings.getint("NEWSCRAWL_MAX_LISTING_ENTRIES"),
            max_failure_share=settings.getfloat("NEWSCRAWL_MAX_FAILURE_SHARE"),
            extraction=ExtractionOptions(
                agreement=settings.getbool("NEWSCRAWL_PRECISION_AGREEMENT"),
                min_text_chars=settings.getint("NEWSCRAWL_MIN_TEXT_CHARS"),
            ),
            dedupe=_dedupe_settings(settings),
            learning=_built(LearningSettings, "NEWSCRAWL_BOILERPLATE_MIN_PAGES", settings,
                            min_pages=settings.getint("NEWSCRAWL_BOILERPLATE_MIN_PAGES"),
                            min_share=settings.getfloat("NEWSCRAWL_BOILERPLATE_MIN_SHARE")),
            limits=StoreLimits.from_settings(settings),
            store_batch_size=settings.getint("NEWSCRAWL_STORE_BATCH_SIZE"),
            store_batch_seconds=settings.getfloat("NEWSCRAWL_STORE_BATCH_SECONDS"),
        )

    @classmethod
    def of(cls, crawler) -> CrawlConfig:
        """The crawler's configuration, built on first use and shared by its components."""
        config = getattr(crawler, "_newscrawl_config", None)
        if config is None:
            config = cls.from_settings(crawler.settings)
            crawler._newscrawl_config = config
        return config


def _built(kind: type, setting: str, settings: BaseSettings, **values):
    """``kind(**values)``, its own validation reported under the setting's name."""
    try:
        return kind(**values)
    except ValueError as exc:
        raise SettingError(f"setting {setting}={settings.get(setting)} is invalid: {exc}") from None


def _dedupe_settings(settings: BaseSettings) -> DedupeSettings:
    redis_url = settings.get("NEWSCRAWL_REDIS_URL")
    storage = {"type": "dict"}
    if redis_url:
        # Workers share one LSH index in Redis (datasketch's storage). Its keys are article
        # ids, so the index belongs to one database: the basename is derived from it.
        basename = settings.get("NEWSCRAWL_REDIS_INDEX") or "newscrawl:lsh:" + hashlib.sha1(
            redact(resolve_database_url(settings.get("DATABASE_URL"))).encode()).hexdigest()[:12]
        storage = {"type": "redis", "redis": _redis_connection(redis_url), "basename": basename.encode()}
    return _built(DedupeSettings, "NEWSCRAWL_DEDUPE_THRESHOLD", settings,
                  near_duplicate_threshold=settings.getfloat("NEWSCRAWL_DEDUPE_THRESHOLD"),
                  shingle_size=settings.getint("NEWSCRAWL_SHINGLE_SIZE"),
                  num_perm=settings.getint("NEWSCRAWL_NUM_PERM"),
                  storage=storage)


def _redis_connection(url: str) -> dict:
    """redis-py connection kwargs from a redis:// URL (datasketch takes kwargs, not URLs)."""
    parts = urlsplit(url)
    config = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 6379}
    if parts.password:
        config["password"] = parts.password
    if parts.path.strip("/").isdigit():
        config["db"] = int(parts.path.strip("/"))
    return config
