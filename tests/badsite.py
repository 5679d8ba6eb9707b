"""Throwaway news sites for tests of bad input and cron behaviour.

A ``SiteBuilder`` writes a small site (``site.toml`` + ``public/``) under a
temporary root that ``crawler.ops.sampleserver.serve_sample_sites(root=...)``
serves: a home page linking to its articles and to whatever bad pages a test
adds (as files, or as ``SampleSites.routes`` once the server runs).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Article, ArticleSignature, CrawlRun
from models.db import make_engine
from tests.conftest import run_cli

# One extraction worker: the pool path is exercised, without paying a worker start-up per core in every test crawl.
CRAWL_FLAGS = ("--allow-private", "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0",
               "--set", "NEWSCRAWL_EXTRACT_PROCESSES=1")

_WORDS = (
    "government minister budget council election parliament harbour railway factory energy grain export "
    "court ruling protest strike union negotiation treaty border village province mayor hospital school "
    "drought harvest inflation currency bank market investor pipeline refinery airport bridge river coast "
    "festival museum archive report survey analyst official spokesman agency committee reform pension tax"
).split()


def paragraphs(seed: int, count: int = 5, words: int = 40) -> list[str]:
    """Distinct, deterministic body paragraphs (so that articles are not near-duplicates)."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        chosen = [rng.choice(_WORDS) for _ in range(words)]
        result.append((" ".join(chosen)).capitalize() + ".")
    return result


def article_html(title: str, body: list[str], published: str = "2025-03-01T10:00:00+00:00",
                 head_extra: str = "", lang: str = "en") -> str:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
          "datePublished": published, "author": [{"@type": "Person", "name": "Tess Reynolds"}]}
    paras = "\n".join(f"<p>{p}</p>" for p in body)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{head_extra}
<title>{title} | Test News</title>
<meta property="og:type" content="article">
<meta property="article:published_time" content="{published}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
</head><body>
<nav><a href="/">Home</a> <a href="/news/">News</a></nav>
<article><h1>{title}</h1>
{paras}
</article>
<footer><p>Test News, all rights reserved.</p></footer>
</body></html>
"""


@dataclass
class SiteBuilder:
    """One throwaway site; call ``write()`` once every page is added."""

    root: Path  # the directory handed to serve_sample_sites(root=...)
    slug: str
    manifest: dict = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # what the home page links to
    articles: dict[str, str] = field(default_factory=dict)  # path -> title

    @property
    def public(self) -> Path:
        return self.root / self.slug / "public"

    def page(self, path: str, content: str | bytes) -> str:
        """Serve ``content`` at ``path`` (a path ending in / is served as its index.html)."""
        target = self.public / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        target.write_bytes(content)
        return path

    def article(self, path: str, title: str, seed: int, linked: bool = True, **kwargs) -> str:
        self.page(path, article_html(title, paragraphs(seed), **kwargs))
        self.articles[path] = title
        if linked:
            self.links.append(path)
        return path

    def link(self, *paths: str) -> None:
        """Link from the home page to paths served by routes or added later."""
        self.links.extend(paths)

    def robots(self, text: str) -> None:
        self.page("/robots.txt", text)

    def write(self) -> SiteBuilder:
        anchors = "\n".join(f'<li><a href="{p}">Story {n}</a></li>' for n, p in enumerate(self.links))
        self.page("/", f"""<!DOCTYPE html><html lang="en"><head><title>Test News</title>
<meta property="og:type" content="website"></head>
<body><h1>Test News</h1><ul>
{anchors}
</ul></body></html>
""")
        manifest = {"slug": self.slug, "name": self.slug, "start": ["/"], **self.manifest}
        lines, tables = [], []
        for key, value in manifest.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for entry in value:  # an array of tables: [[redirect]] ...
                    tables += [f"[[{key}]]", *(f"{k} = {json.dumps(v)}" for k, v in entry.items())]
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines += tables
        (self.root / self.slug / "site.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self


def crawl(db_url: str, *urls: str, settings: tuple[str, ...] = (), args: tuple[str, ...] = (),
          options: tuple[str, ...] = (), timeout: float = 120):
    """The real ``newscrawl [options] crawl [args]`` against local sites; returns the CompletedProcess."""
    extra = [arg for name in settings for arg in ("--set", name)]
    return run_cli(*options, "crawl", "--db", db_url, *CRAWL_FLAGS, *extra, *args, *urls, timeout=timeout)


def stored_articles(db_url: str) -> dict[str, Article]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return {a.canonical_url: a for a in session.scalars(select(Article))}
    finally:
        engine.dispose()


def crawl_runs(db_url: str) -> list[CrawlRun]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        engine.dispose()


def last_run(db_url: str) -> CrawlRun:
    runs = crawl_runs(db_url)
    assert runs, "no crawl_runs row"
    return runs[-1]


def consistency_problems(db_url: str) -> list[str]:
    """What a half-written crawl would leave: articles without text or signature,
    signatures without article, group ids pointing nowhere."""
    engine = make_engine(db_url)
    problems = []
    try:
        with Session(engine) as session:
            ids = set(session.scalars(select(Article.id)))
            signed = set(session.scalars(select(ArticleSignature.article_id)))
            if ids - signed:
                problems.append(f"articles without signature: {sorted(ids - signed)}")
            if signed - ids:
                problems.append(f"signatures without article: {sorted(signed - ids)}")
            for article in session.scalars(select(Article)):
                if not (article.text or "").strip():
                    problems.append(f"article {article.id} has no text")
                if not article.raw_html:
                    problems.append(f"article {article.id} has no raw html")
                for column in ("dup_group_id", "story_id"):
                    value = getattr(article, column)
                    if value is None or value not in ids:
                        problems.append(f"article {article.id}: {column}={value} is not an article")
            count = session.scalar(select(func.count()).select_from(Article))
            assert count == len(ids)
    finally:
        engine.dispose()
    return problems
