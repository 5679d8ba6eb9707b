"""Helpers for tests: seed texts and rendered sample-site pages, without a server."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from crawler.ops.sampleserver import SAMPLE_SITES_DIR, load_sample_sites

SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"
FAKE_BASE = "http://127.0.0.1:8799"


@cache
def seed_texts() -> dict[str, str]:
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))}
    assert len(texts) == 5, f"expected the five seed documents in {SEEDS_DIR}"
    return texts


@cache
def sample_sites():
    return load_sample_sites(SAMPLE_SITES_DIR)


def page_path(site, path: str) -> Path:
    public = site.root / "public"
    if path.endswith("/"):
        for name in ("index.html", "index.xml"):
            if (public / path.lstrip("/") / name).is_file():
                return public / path.lstrip("/") / name
    return public / path.lstrip("/")


def render(site, path: str) -> tuple[str, str]:
    """(html, url) of a sample-site page, with {{BASE}} set to a fake base URL."""
    html = page_path(site, path).read_text(encoding="utf-8").replace("{{BASE}}", FAKE_BASE)
    return html, FAKE_BASE + path


def all_articles():
    return [(site, article) for site in sample_sites() for article in site.manifest.get("article", [])]


def all_nonarticles():
    return [(site, page) for site in sample_sites() for page in site.manifest.get("nonarticle", [])]
