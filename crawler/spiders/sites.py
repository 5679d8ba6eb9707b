"""Start URLs: validation, and the sites file (``seeds/sites.toml``)."""
from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SITES_FILE = Path("seeds/sites.toml")


def validate_start_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"start URL must be http(s), got {url!r}")
    if not parts.hostname:
        raise ValueError(f"start URL has no host: {url!r}")
    return url


def parse_url_list(urls: str | list[str] | None) -> list[str]:
    """URLs from a spider argument: a list, or one comma/whitespace separated string."""
    if urls is None:
        return []
    if isinstance(urls, str):
        urls = urls.replace(",", " ").split()
    return [validate_start_url(u) for u in urls if u.strip()]


def load_sites_file(path: str | Path) -> list[str]:
    """Start URLs from a TOML sites file::

        [[site]]
        name = "Example News"
        start = ["https://news.example/", "https://news.example/rss.xml"]
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"sites file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sites file {path} is not valid TOML: {exc}") from None
    sites = data.get("site")
    if not isinstance(sites, list) or not sites:
        raise ValueError(f"sites file {path} has no [[site]] entries")
    urls: list[str] = []
    for index, site in enumerate(sites, 1):
        start = site.get("start")
        if isinstance(start, str):
            start = [start]
        if not start:
            raise ValueError(f"sites file {path}: site #{index} ({site.get('name', '?')}) has no start URLs")
        urls.extend(validate_start_url(u) for u in start)
    return urls
