"""Web archives: `crawl --warc` writes valid WARC files; `ingest` runs WARC files through the crawl.

Two archives: the sample sites recorded through the crawl's own WARC writer, and a
CC-NEWS-like file built here with warcio (gzip per record, request and metadata
records, mixed languages, redirects, 404s, non-HTML payloads, a truncated record,
gzip and deflate payloads, a chunked payload, a wrong declared charset, and
Content-Length headers that lie).
"""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.ops import cli
from crawler.middlewares.archive import archived_to_response
from crawler.store.warc import ReadStats, SkippedRecord, read_archived_page, read_warc
from models import Article, CrawlRun, WarcFile
from models.db import make_engine
from tests.conftest import run_cli

WARC_DATE = "2024-05-02T08:15:00Z"

# --- the CC-NEWS-like archive ---------------------------------------------------

SEED_TEXTS = sorted((Path(__file__).resolve().parent.parent / "seeds" / "sites").glob("*/expected/*.txt"))


def english(n: int) -> str:
    """A real English article body (the sample sites' expected texts), a different one per n."""
    return SEED_TEXTS[n].read_text(encoding="utf-8")


TEXTS = {
    "de": ("Die Stadtwerke in Freiburg haben am Montag ein neues Wasserkraftwerk an der Dreisam in Betrieb genommen. "
           "Nach Angaben des Betreibers soll die Anlage rund zweitausend Haushalte mit Strom versorgen. Der Bau hatte "
           "sich wegen eines langen Genehmigungsverfahrens um fast zwei Jahre verzögert. Umweltverbände begrüßten "
           "die Fischtreppe, die Forellen und Äschen den Weg flussaufwärts freihalten soll.\n"
           "Der Oberbürgermeister sprach bei der Eröffnung von einem wichtigen Schritt für die Energiewende in der "
           "Region. Kritiker hatten jahrelang bemängelt, dass die Kosten für das Projekt immer weiter stiegen. Am "
           "Ende lagen sie nach Angaben der Stadt bei knapp neun Millionen Euro, etwa ein Drittel mehr als geplant. "
           "Die Anlage soll sich nach Berechnungen der Stadtwerke in gut zwanzig Jahren amortisieren."),
    "de2": ("Im Landkreis Emmendingen streiten Gemeinderäte seit Wochen über die Zukunft des örtlichen Freibads. "
            "Die Sanierung des Beckens würde nach einem Gutachten mehr als vier Millionen Euro kosten. Eine "
            "Bürgerinitiative hat inzwischen über dreitausend Unterschriften für den Erhalt gesammelt.\n"
            "Der Kämmerer warnte in der jüngsten Sitzung vor neuen Schulden, weil gleichzeitig die Grundschule und "
            "die Feuerwache erneuert werden müssen. Mehrere Vereine boten an, einen Teil der Betriebskosten zu "
            "übernehmen, wenn die Gemeinde die Sanierung beschließt. Die Entscheidung soll im Herbst fallen, nach "
            "einer öffentlichen Anhörung in der Festhalle."),
    "fr": ("La municipalité de Nantes a présenté mercredi son plan de rénovation des ponts de la Loire. "
           "Les travaux commenceront au printemps et dureront environ trois ans selon les services techniques. "
           "Les cyclistes bénéficieront de nouvelles pistes séparées de la circulation automobile.\n"
           "Le budget total dépasse quarante millions d'euros, financés en partie par la région et par l'État. "
           "Les commerçants du quartier craignent une baisse de fréquentation pendant le chantier, et demandent "
           "des compensations. L'adjoint chargé des mobilités a promis des navettes gratuites et une signalisation "
           "renforcée pour maintenir l'accès aux boutiques du centre pendant toute la durée des travaux."),
    "fr2": ("À Angers, le conseil municipal a voté lundi soir la création de douze kilomètres de pistes cyclables "
            "supplémentaires d'ici la fin de l'année prochaine. Les associations d'usagers saluent une décision "
            "attendue depuis longtemps, mais regrettent l'absence de liaison avec les communes voisines.\n"
            "Selon la mairie, la part du vélo dans les déplacements quotidiens a doublé en cinq ans. Le nouveau "
            "réseau reliera la gare, l'université et les principaux lycées. Une consultation en ligne permettra "
            "aux habitants de proposer des itinéraires jusqu'à la fin du mois, avant le lancement des premiers "
            "travaux de marquage au sol."),
    "ru": ("Власти Новосибирска во вторник открыли после ремонта мост через Обь на въезде в город. "
           "Рабочие заменили покрытие и ограждения, а также установили новое освещение на всём протяжении моста. "
           "По словам мэрии, движение по мосту будет полностью восстановлено к выходным.\n"
           "Жители района жаловались на пробки, которые возникали из-за ремонта почти два месяца подряд. "
           "Подрядчик обещал завершить работы ещё в апреле, однако сроки несколько раз переносились из-за погоды "
           "и задержек с поставками материалов. Стоимость ремонта составила около шестисот миллионов рублей, "
           "сообщили в городской администрации."),
}


def article_html(lang: str, title: str, text: str, charset: str = "utf-8", extra: str = "") -> str:
    paragraphs = "".join(f"<p>{paragraph.strip()}</p>" for paragraph in text.split("\n") if paragraph.strip())
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}"><title>{title} | Example</title>'
            f'<meta property="og:type" content="article"><meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="2024-05-01T10:00:00Z"></head>'
            f'<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>'
            f'<article><h1>{title}</h1>{paragraphs}{extra}</article>'
            f'<footer><a href="/about/">About us</a></footer></body></html>')


def _response(writer: WARCWriter, url: str, body: bytes, headers: list[tuple[str, str]], status: str = "200 OK",
              warc_headers: dict | None = None, with_request: bool = True) -> None:
    http_headers = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http_headers,
                                       warc_headers_dict={"WARC-Date": WARC_DATE, **(warc_headers or {})})
    if with_request:
        # CC-NEWS writes the request first, then the response, then a metadata record.
        parts = urlsplit(url)
        request = writer.create_warc_record(
            url, "request", payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(f"GET {parts.path or '/'} HTTP/1.1",
                                          [("Host", parts.netloc), ("User-Agent", "CCBot/2.0")],
                                          is_http_request=True),
            warc_headers_dict={"WARC-Date": WARC_DATE})
        writer.write_record(request)
    writer.write_record(record)
    if with_request:
        metadata = writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                                             warc_content_type="application/warc-fields",
                                             warc_headers_dict={"WARC-Date": WARC_DATE})
        writer.write_record(metadata)


def _raw_record(url: str, body: bytes, headers: list[tuple[str, str]], length_delta: int) -> bytes:
    """One uncompressed response record whose WARC Content-Length is off by ``length_delta``."""
    buffer = io.BytesIO()
    _response(WARCWriter(buffer, gzip=False), url, body, headers, with_request=False)
    raw = buffer.getvalue()
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")]
    declared = len(rest) - 4 + length_delta  # the block, without the two CRLFs that end the record
    return b"\r\n".join(lines + [f"Content-Length: {declared}".encode()]) + sep + rest


HTML = [("Content-Type", "text/html; charset=utf-8")]
BASE = "https://news.example.org"
FR_BASE = "https://journal.example.fr"


def expected_ccnews() -> dict:
    """What each response record of the CC-NEWS-like file must come to."""
    return {
        "stored": {
            f"{BASE}/2024/05/01/valletta-quay-reopens/": ("en", english(0).split("\n")[0][:60]),
            f"{BASE}/2024/05/01/freiburg-wasserkraft/": ("de", "Die Stadtwerke in Freiburg"),  # gzip payload
            f"{FR_BASE}/2024/05/01/ponts-de-la-loire/": ("fr", "La municipalité de Nantes"),  # deflate payload
            f"{BASE}/2024/05/01/novosibirsk-bridge/": ("ru", "Власти Новосибирска"),  # cp1251 declared utf-8
            f"{BASE}/2024/05/01/chunked-story/": ("en", english(1).split("\n")[0][:60]),  # chunked, as Heritrix keeps it
            f"{BASE}/2024/05/01/plain-despite-gzip-header/": ("de", "Bürgerinitiative hat inzwischen"),
            f"{BASE}/2024/05/01/http-length-lies/": ("fr", "part du vélo dans les déplacements"),
            f"{BASE}/2024/05/01/brotli-story/": ("en", english(5).split("\n")[0][:60]),
            f"{BASE}/2024/05/01/zstd-story/": ("en", english(6).split("\n")[0][:60]),
        },
        "skipped": {
            "http_301": 1, "http_404": 1, "not_html": 2, "warc_truncated": 1, "warc_revisit": 1,
            "warc_not_http": 1, "warc_damaged": 1, "duplicate_url": 1,
        },
        "responses": 19,  # with the record after the damaged one
    }


def build_ccnews(path: Path, gzipped: bool = True) -> None:
    """A WARC in CC-NEWS's layout. Every response record's fate is in expected_ccnews()."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzipped)
    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "test (CC-NEWS layout)",
                                                                  "isPartOf": "CC-NEWS"}))
    en = article_html("en", "Valletta quay reopens", english(0)).encode()
    _response(writer, f"{BASE}/2024/05/01/valletta-quay-reopens/", en, HTML)
    _response(writer, f"{BASE}/2024/05/01/freiburg-wasserkraft/",
              gzip.compress(article_html("de", "Neues Wasserkraftwerk", TEXTS["de"]).encode()),
              HTML + [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
    _response(writer, f"{FR_BASE}/2024/05/01/ponts-de-la-loire/",
              zlib.compress(article_html("fr", "Les ponts de la Loire", TEXTS["fr"]).encode()),
              HTML + [("Content-Encoding", "deflate")])
    import brotli
    from backports import zstd

    _response(writer, f"{BASE}/2024/05/01/brotli-story/",
              brotli.compress(article_html("en", "Brotli", english(5)).encode()), HTML + [("Content-Encoding", "br")])
    _response(writer, f"{BASE}/2024/05/01/zstd-story/",  # warcio does not decode zstd: Scrapy's middleware does
              zstd.compress(article_html("en", "Zstandard", english(6)).encode()), HTML + [("Content-Encoding", "zstd")])
    # windows-1251 bytes, declared as UTF-8 in the header and in the page
    _response(writer, f"{BASE}/2024/05/01/novosibirsk-bridge/",
              article_html("ru", "Мост через Обь открыт", TEXTS["ru"]).encode("cp1251"), HTML)
    page = article_html("en", "Chunked transfer", english(1)).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(page[i:i + 700]), page[i:i + 700]) for i in range(0, len(page), 700))
    _response(writer, f"{BASE}/2024/05/01/chunked-story/", chunked + b"0\r\n\r\n",
              HTML + [("Transfer-Encoding", "chunked")])
    # Some archivers store the decoded payload and keep the Content-Encoding header.
    _response(writer, f"{BASE}/2024/05/01/plain-despite-gzip-header/",
              article_html("de", "Streit um das Freibad", TEXTS["de2"]).encode(),
              HTML + [("Content-Encoding", "gzip")])
    # The HTTP Content-Length says far more than the payload holds.
    _response(writer, f"{BASE}/2024/05/01/http-length-lies/",
              article_html("fr", "Pistes cyclables", TEXTS["fr2"]).encode(),
              HTML + [("Content-Length", "999999")])
    _response(writer, f"{BASE}/news/12345", b"", [("Location", f"{BASE}/2024/05/01/valletta-quay-reopens/")],
              status="301 Moved Permanently")
    _response(writer, f"{BASE}/2024/04/30/gone/", b"<html><title>Not found</title></html>", HTML,
              status="404 Not Found")
    _response(writer, f"{BASE}/images/lead.jpg", b"\xff\xd8\xff\xe0" + b"\x00<p>" * 300, [("Content-Type", "image/jpeg")])
    _response(writer, f"{BASE}/files/report.pdf", b"%PDF-1.4 <p>" + b"x" * 500, [("Content-Type", "application/pdf")])
    truncated = article_html("en", "A very long page", english(2) * 3).encode()
    _response(writer, f"{BASE}/2024/05/01/gozo-ferry-timetable/", truncated[: len(truncated) // 2], HTML,
              warc_headers={"WARC-Truncated": "length"})
    revisit = writer.create_revisit_record(f"{BASE}/2024/05/01/valletta-quay-reopens/", digest="sha1:AAAA",
                                           refers_to_uri=f"{BASE}/2024/05/01/valletta-quay-reopens/",
                                           refers_to_date=WARC_DATE)
    writer.write_record(revisit)
    dns = writer.create_warc_record("dns:news.example.org", "response", payload=io.BytesIO(b"news.example.org. 300 IN A 192.0.2.1"),
                                    warc_content_type="text/dns", warc_headers_dict={"WARC-Date": WARC_DATE})
    writer.write_record(dns)
    # The same URL captured twice: stored once.
    _response(writer, f"{BASE}/2024/05/01/valletta-quay-reopens/", en, HTML)
    data = buffer.getvalue()
    # A record whose WARC Content-Length is 40 bytes short, then one more record that must still be read.
    damaged_url = f"{BASE}/2024/05/01/length-lies/"
    damaged = _raw_record(damaged_url, article_html("en", "Cut", english(3)).encode(), HTML, -40)
    last = io.BytesIO()
    _response(WARCWriter(last, gzip=gzipped), f"{BASE}/2024/05/01/after-the-damage/",
              article_html("en", "After the damage", english(4)).encode(), HTML,
              with_request=False)
    data += (gzip.compress(damaged) if gzipped else damaged + b"\r\n\r\n") + last.getvalue()
    path.write_bytes(data)


def ingest(db_url: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    result = run_cli("ingest", "--db", db_url, *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def articles(db_url: str) -> list[Article]:
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(Article).order_by(Article.canonical_url)))
    engine.dispose()
    return rows


def last_run(db_url: str) -> CrawlRun:
    engine = make_engine(db_url)
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
    engine.dispose()
    return run


@pytest.fixture(scope="module")
def ccnews(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ccnews") / "CC-NEWS-20240502081500-00001.warc.gz"
    build_ccnews(path)
    return path


def check_ccnews_result(db_url: str, warc: Path | None) -> None:
    expected = expected_ccnews()
    rows = {row.url: row for row in articles(db_url)}
    stored = dict(expected["stored"])
    stored[f"{BASE}/2024/05/01/after-the-damage/"] = ("en", english(4).split("\n")[0][:60])
    assert set(rows) == set(stored)
    for url, (language, snippet) in stored.items():
        row = rows[url]
        assert snippet in row.text, (url, row.text[:200])
        assert row.language == language
        assert row.fetched_at == dt.datetime(2024, 5, 2, 8, 15, tzinfo=dt.timezone.utc)  # the WARC-Date
        assert row.warc_offset is not None and row.warc_offset > 0
        assert row.warc_file == (str(warc.resolve()) if warc else None)
    assert "Мост через Обь открыт" == rows[f"{BASE}/2024/05/01/novosibirsk-bridge/"].title
    run = last_run(db_url)
    assert run.status == "finished"
    for reason, count in expected["skipped"].items():
        assert run.skips.get(reason, 0) + run.errors.get(reason, 0) == count, (reason, run.skips, run.errors)
    # 0 records lost: every response record is stored, or counted under one skip reason.
    skipped = sum(run.skips.values()) + sum(run.errors.values())
    assert run.articles_new + skipped == expected["responses"] == len(stored) + sum(expected["skipped"].values())


# --- the CC-NEWS-like file -------------------------------------------------------


def test_ccnews_layout_file_is_ingested_record_by_record(ccnews, sqlite_url):
    result = ingest(sqlite_url, str(ccnews))
    check_ccnews_result(sqlite_url, ccnews)
    assert "WARC records read:" in result.stdout and "metadata=" in result.stdout and "request=" in result.stdout
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        (row,) = session.scalars(select(WarcFile)).all()
        run = session.scalars(select(CrawlRun)).one()
    engine.dispose()
    assert row.status == "finished" and row.path == str(ccnews.resolve()) and len(row.digest) == 64
    with ccnews.open("rb") as handle:
        assert row.records == sum(1 for _ in ArchiveIterator(handle))  # every record, of every type
    assert run.start_urls == [str(ccnews.resolve())]
    # The offsets point at the records: reprocess can read the page back from the archive.
    for article in articles(sqlite_url):
        page = read_archived_page(article.warc_file, article.warc_offset)
        assert page.url == article.url
        still_encoded = archived_to_response(page).headers.get("Content-Encoding")  # br, zstd: Scrapy decodes
        if "novosibirsk" not in article.url and not still_encoded:  # (that one is stored re-encoded as UTF-8)
            assert zlib.decompress(article.raw_html) == page.body

    again = ingest(sqlite_url, str(ccnews))
    assert "Files already ingested (skipped): 1" in again.stdout
    assert len(articles(sqlite_url)) == 10


def test_plain_warc_and_stdin_give_the_same_articles(tmp_path, ccnews, sqlite_url):
    plain = tmp_path / "same.warc"
    build_ccnews(plain, gzipped=False)
    ingest(sqlite_url, str(plain))
    check_ccnews_result(sqlite_url, plain)

    from_stdin = f"sqlite:///{tmp_path / 'stdin.db'}"
    with open(ccnews, "rb") as handle:
        result = subprocess.run([str(Path(sys.executable).parent / "newscrawl"), "ingest", "--db", from_stdin, "-"],
                                stdin=handle, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    check_ccnews_result(from_stdin, None)


def test_from_list_site_and_since_filters(tmp_path, ccnews):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(f"# a CC-NEWS path list\n{ccnews}\n".encode()))
    db = f"sqlite:///{tmp_path / 'site.db'}"
    ingest(db, "--from", str(listing), "--site", "journal.example.fr")
    assert [a.site for a in articles(db)] == ["example.fr"]
    run = last_run(db)
    # the other response records, each counted once (the revisit, dns and damaged ones as such)
    assert run.skips["other_site"] == 15 and run.skips["warc_revisit"] == 1

    later = f"sqlite:///{tmp_path / 'since.db'}"
    ingest(later, str(ccnews), "--since", "2024-06-01")
    assert articles(later) == []
    assert last_run(later).skips["before_since"] == 16


def build_wire_archive(path: Path, copies: int = 3) -> None:
    """Every sample-site article text on ``copies`` sites (wire copies): many records to kill an ingest in."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    for copy in range(copies):
        for n, text_path in enumerate(SEED_TEXTS):
            url = f"https://www.wire-{copy}.example.com/2024/05/01/{text_path.stem}-{n}/"
            _response(writer, url, article_html("en", text_path.stem.replace("-", " ").title(), english(n)).encode(),
                      HTML)
    path.write_bytes(buffer.getvalue())


def test_truncated_records_are_ingested_when_data_loss_is_allowed(tmp_path, ccnews):
    db = f"sqlite:///{tmp_path / 'dataloss.db'}"
    ingest(db, str(ccnews), "--set", "DOWNLOAD_FAIL_ON_DATALOSS=False")
    urls = {a.url for a in articles(db)}
    assert f"{BASE}/2024/05/01/gozo-ferry-timetable/" in urls  # the first half of the page holds an article
    assert "warc_truncated" not in last_run(db).skips


def test_ingest_killed_halfway_resumes_to_the_same_end_state(tmp_path):
    import os
    import signal
    import time

    warc = tmp_path / "wire.warc.gz"
    build_wire_archive(warc)
    in_process = ("--set", "NEWSCRAWL_EXTRACT_PROCESSES=0")
    whole = f"sqlite:///{tmp_path / 'whole.db'}"
    ingest(whole, str(warc), *in_process)
    expected = articles(whole)
    assert len(expected) > 2 * len(SEED_TEXTS)

    resumed = f"sqlite:///{tmp_path / 'resumed.db'}"
    process = subprocess.Popen([str(Path(sys.executable).parent / "newscrawl"), "ingest", "--db", resumed, str(warc),
                                *in_process], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = make_engine(resumed)
    partial = 0
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with Session(engine) as session:
                partial = session.scalar(select(func.count()).select_from(Article)) or 0
        except OperationalError:  # not created yet, or locked by the writer
            partial = 0
        if partial >= 5:
            os.kill(process.pid, signal.SIGKILL)  # no chance to clean up
            break
        time.sleep(0.05)
    process.wait()
    assert 5 <= partial < len(expected), "the ingest ended before it could be killed halfway"
    with Session(engine) as session:
        assert session.scalars(select(WarcFile.status)).all() == ["running"]
        before = {a.canonical_url: a.id for a in session.scalars(select(Article))}

    ingest(resumed, str(warc), *in_process)
    with Session(engine) as session:
        assert session.scalars(select(WarcFile.status)).all() == ["finished"]
    engine.dispose()
    after = articles(resumed)
    assert last_run(resumed).skips["known"] >= len(before)
    assert [(a.canonical_url, a.title, a.text, a.fetched_at) for a in after] == \
        [(a.canonical_url, a.title, a.text, a.fetched_at) for a in expected]

    def partition(rows, attribute):
        groups: dict = {}
        for row in rows:
            groups.setdefault(getattr(row, attribute), set()).add(row.canonical_url)
        return sorted(sorted(g) for g in groups.values())

    assert partition(after, "dup_group_id") == partition(expected, "dup_group_id")
    assert partition(after, "story_id") == partition(expected, "story_id")
    assert before.items() <= {a.canonical_url: a.id for a in after}.items()  # no duplicate, no renumbering


@pytest.mark.postgres
def test_ccnews_layout_into_postgres(ccnews, pg_url):
    ingest(pg_url, str(ccnews))
    check_ccnews_result(pg_url, ccnews)


# --- reading damaged archives, in-process --------------------------------------------


def test_damaged_plain_warc_is_read_past_the_damage(tmp_path):
    """A WARC Content-Length that is too long swallows the next record's head in a plain
    WARC: that region is counted and reading resumes at the next record."""
    writer_out = io.BytesIO()
    writer = WARCWriter(writer_out, gzip=False)
    _response(writer, f"{BASE}/a/1", b"<html>one</html>", HTML, with_request=False)
    swallowing = _raw_record(f"{BASE}/a/2", b"<html>two</html>", HTML, +60) + b"\r\n\r\n"
    tail = io.BytesIO()
    for n in (3, 4):
        _response(WARCWriter(tail, gzip=False), f"{BASE}/a/{n}", f"<html>{n}</html>".encode(), HTML,
                  with_request=False)
    path = tmp_path / "damaged.warc"
    path.write_bytes(writer_out.getvalue() + swallowing + tail.getvalue())
    stats = ReadStats()
    with path.open("rb") as handle:
        entries = list(read_warc(handle, str(path), 1 << 20, stats))
    good = [e.url for e in entries if not isinstance(e, SkippedRecord)]
    assert f"{BASE}/a/1" in good and f"{BASE}/a/4" in good
    assert stats.damaged_regions + sum(isinstance(e, SkippedRecord) for e in entries) >= 1


def test_truncated_file_tail_keeps_the_records_before_it(tmp_path, ccnews):
    data = ccnews.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) - 700])  # the last record's gzip member cut short
    stats = ReadStats()
    with cut.open("rb") as handle:
        urls = [e.url for e in read_warc(handle, str(cut), 1 << 20, stats) if not isinstance(e, SkippedRecord)]
    assert f"{BASE}/2024/05/01/valletta-quay-reopens/" in urls
    assert f"{BASE}/2024/05/01/after-the-damage/" not in urls


def test_archived_response_is_decoded_and_typed():
    from crawler.store.warc import ArchivedResponse
    from scrapy.http import HtmlResponse

    archived = ArchivedResponse(url=f"{BASE}/x", status=200,
                                headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                                         ("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                                body=b"<html><p>decoded</p></html>", archived_at=dt.datetime.now(dt.timezone.utc),
                                warc_file=None, offset=0)
    response = archived_to_response(archived)
    assert isinstance(response, HtmlResponse) and b"decoded" in response.body
    assert b"Content-Encoding" not in response.headers and "warc" in response.flags


@pytest.mark.parametrize("argv, message", [
    (["ingest", "/nonexistent/file.warc.gz"], "no such WARC file"),
    (["ingest", "https://data.commoncrawl.org/crawl-data/CC-NEWS/x.warc.gz"], "ingest reads local files"),
    (["ingest"], "no WARC files given"),
    (["ingest", "--since", "yesterday", "x"], None),
])
def test_ingest_usage_errors_exit_2(argv, message, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err and (message is None or message in err)


def test_crawl_warc_must_be_a_directory(tmp_path, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert cli.main(["crawl", "--warc", str(not_a_dir), "https://news.example.org/"]) == cli.EXIT_USAGE
    assert "not a directory" in capsys.readouterr().err


def test_ingest_progress_line_reports_rates():
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from crawler.extensions import IngestProgress

    stats = MemoryStatsCollector(get_crawler())
    stats.set_value("newscrawl/warc/responses", 120)
    stats.set_value("newscrawl/articles/new", 90)
    stats.set_value("newscrawl/skipped/http_404", 30)
    progress = IngestProgress(stats, 5.0, tty=False)
    progress._started -= 10  # ten seconds in
    line = progress.line()
    assert "responses read 120 (12.0/s)" in line and "articles stored 90 (9.0/s)" in line and "skipped 30" in line


def test_writer_rotates_into_valid_files(tmp_path):
    from scrapy.http import HtmlResponse, Request

    from crawler.middlewares.archive import WarcWriterMiddleware

    middleware = WarcWriterMiddleware(tmp_path / "warcs", 2000, stats=None)
    for n in range(6):
        request = Request(f"{BASE}/2024/05/01/page-{n}/?a=1", headers={"Accept-Encoding": "gzip"})
        body = gzip.compress(article_html("en", f"Page {n}", english(n)).encode())
        response = HtmlResponse(request.url, status=200, body=body, request=request,
                                headers={"Content-Type": "text/html", "Content-Encoding": "gzip",
                                         "Transfer-Encoding": "chunked"})
        path, offset = middleware._write(request, response)
    middleware.files.close()
    files = sorted((tmp_path / "warcs").glob("*.warc.gz"))
    assert len(files) >= 3
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", *map(str, files)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(path, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Target-URI").endswith("page-5/?a=1")
        assert b"Page 5" in record.content_stream().read()  # stored gzip-encoded, decoded on reading
        assert record.http_headers.get_header("X-Crawler-Transfer-Encoding") == "chunked"


# --- the crawl's own archive -----------------------------------------------------------


@pytest.mark.integration
def test_crawl_warc_is_valid_and_ingesting_it_gives_the_same_database(sample_sites, sites_file, tmp_path):
    crawled = f"sqlite:///{tmp_path / 'crawl.db'}"
    warcs = tmp_path / "warcs"
    result = run_cli("crawl", "--db", crawled, "--allow-private", "--sites", str(sites_file), "--warc", str(warcs),
                     "--set", "AUTOTHROTTLE_ENABLED=False", "--set", "DOWNLOAD_DELAY=0")
    assert result.returncode == 0, result.stdout + result.stderr
    files = sorted(warcs.glob("*.warc.gz"))
    assert files
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", "-v", *map(str, files)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with files[0].open("rb") as handle:
        types = [r.rec_type for r in ArchiveIterator(handle)]
    assert types[0] == "warcinfo" and types.count("response") == types.count("request") >= 40

    crawl_rows = articles(crawled)
    assert crawl_rows and all(a.warc_file == str(files[0]) and a.warc_offset for a in crawl_rows)

    ingested = f"sqlite:///{tmp_path / 'ingest.db'}"
    ingest(ingested, *map(str, files))
    ingest_rows = articles(ingested)

    def partition(rows, attribute):
        groups: dict = {}
        for row in rows:
            groups.setdefault(getattr(row, attribute), set()).add(row.canonical_url)
        return sorted(sorted(g) for g in groups.values())

    assert [(a.canonical_url, a.url, a.title, a.text, a.published_at, a.language, a.is_canonical)
            for a in ingest_rows] == \
        [(a.canonical_url, a.url, a.title, a.text, a.published_at, a.language, a.is_canonical) for a in crawl_rows]
    assert partition(ingest_rows, "dup_group_id") == partition(crawl_rows, "dup_group_id")
    assert partition(ingest_rows, "story_id") == partition(crawl_rows, "story_id")
    for crawled_row, ingested_row in zip(crawl_rows, ingest_rows):
        assert (crawled_row.warc_file, crawled_row.warc_offset) == (ingested_row.warc_file, ingested_row.warc_offset)
        assert abs(crawled_row.fetched_at - ingested_row.fetched_at) < dt.timedelta(seconds=30)
    assert json.loads(json.dumps(last_run(ingested).start_urls)) == [str(f) for f in files]
