"""Up-front checks of the crawl settings a user can override (``--set``, ``-s``).

A value that cannot work must be refused before the crawl starts, with the
setting's name and what it accepts: ``CONCURRENT_REQUESTS_PER_DOMAIN=0`` would
otherwise hang the crawl without a word, and ``DOWNLOAD_DELAY=abc`` would fail
it deep inside Scrapy. A misspelt name would otherwise be accepted silently.
"""
from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping

from scrapy.settings import BaseSettings
from scrapy.settings import default_settings as scrapy_defaults


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
    "NEWSCRAWL_BOILERPLATE_MIN_PAGES": _number(int, 1),
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
