"""The ``newscrawl`` command line.

Exit codes (cron can act on them):
  0  success
  1  the run failed (database unusable, crawl aborted)
  2  usage error (bad arguments, unreadable sites file)
  3  the run finished, but more than NEWSCRAWL_MAX_FAILURE_SHARE of its fetches failed
 75  another run holds the lock (EX_TEMPFAIL: try again later)
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_LOCKED = 75

logger = logging.getLogger("newscrawl")


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL (default: $NEWSCRAWL_DB, else sqlite:///newscrawl.db); "
        "PostgreSQL: postgresql+psycopg://user@host/dbname",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl",
        description="Crawl news sites, extract clean articles, store them and group duplicates and stories.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only errors and the one-line result (for cron mail); no progress line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = commands.add_parser("crawl", help="crawl start URLs or a sites file into the database",
                                description="Crawl home/section pages, RSS/Atom feeds and sitemaps; store articles; dedupe.")
    _add_db(crawl)
    crawl.add_argument("--sites", metavar="FILE", help="TOML sites file used when no URL is given (default: seeds/sites.toml)")
    crawl.add_argument("--allow-private", action="store_true",
                       help="allow loopback/private addresses (local test sites); refused by default")
    crawl.add_argument("--set", dest="settings", action="append", metavar="NAME=VALUE", default=[],
                       help="override a Scrapy setting, as `scrapy crawl -s` does (repeatable)")
    crawl.add_argument("--redis", metavar="URL",
                       help="distributed mode: share the frontier (scrapy-redis) and the dedupe index in this Redis")
    crawl.add_argument("--redis-run", metavar="ID",
                       help="with --redis: the run the workers share (default: the current UTC hour)")
    crawl.add_argument("--refresh", action="store_true", help="fetch article URLs already stored again")
    crawl.add_argument("--since", metavar="DATE", help="skip feed and sitemap entries published before DATE (ISO 8601)")
    crawl.add_argument("--warc", metavar="DIR",
                       help="also write every response, with its request, to rotating .warc.gz files in DIR "
                       "(NEWSCRAWL_WARC_DIR; 1 GB each, NEWSCRAWL_WARC_MAX_SIZE)")
    crawl.add_argument("urls", nargs="*", metavar="URL", help="start URLs: home or section pages, feeds, sitemaps")
    crawl.set_defaults(func=cmd_crawl)

    ingest = commands.add_parser(
        "ingest", help="run the responses archived in WARC files (CC-NEWS, a crawl's --warc) through the crawl",
        description="Reads WARC files (.warc.gz with one gzip member per record, as Common Crawl writes them, or "
        "plain .warc) and runs each archived HTTP response through the crawl's own pipeline: kind detection, "
        "article decision, canonical identity, extraction with site learning, storage, near-duplicate groups "
        "and stories. No link is followed. fetched_at is the record's WARC-Date. A file already ingested (same "
        "SHA-256) is skipped; an interrupted ingest of a file is resumed.")
    _add_db(ingest)
    ingest.add_argument("files", nargs="*", metavar="FILE", help="WARC files; - reads one from stdin")
    ingest.add_argument("--from", dest="from_file", metavar="LIST",
                        help="read WARC paths from LIST, one per line (a .gz list is read compressed; - for stdin), "
                        "as in CC-NEWS's warc.paths.gz")
    ingest.add_argument("--since", metavar="DATE", help="skip records archived (WARC-Date) before DATE (ISO 8601)")
    ingest.add_argument("--site", dest="sites", action="append", metavar="SITE", default=[],
                        help="only records of this site, e.g. bbc.co.uk (repeatable)")
    ingest.add_argument("--refresh", action="store_true",
                        help="ingest files already ingested again, and store again articles already stored")
    ingest.add_argument("--set", dest="settings", action="append", metavar="NAME=VALUE", default=[],
                        help="override a Scrapy setting (repeatable)")
    ingest.set_defaults(func=cmd_ingest)

    export = commands.add_parser(
        "export", help="write stored articles as JSONL, CSV or Parquet",
        description="One record per article from the clean_articles view (docs/clean_articles.md), in id order, "
        "streamed at constant memory. Filters combine (AND).")
    _add_db(export)
    export.add_argument("--format", choices=("jsonl", "csv", "parquet"), default="jsonl",
                        help="jsonl (default), csv (authors and tags as JSON arrays) or parquet (needs -o)")
    export.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout; required for parquet)")
    export.add_argument("--since", metavar="DATE",
                        help="only articles published at or after DATE (ISO 8601; articles without a date are left out)")
    export.add_argument("--site", dest="sites", action="append", metavar="SITE", default=[],
                        help="only this site, as in the site column (repeatable)")
    export.add_argument("--story", type=int, metavar="ID", help="only the articles of this story (story_id)")
    export.add_argument("--canonical-only", action="store_true",
                        help="only each near-duplicate group's canonical article (is_canonical)")
    export.set_defaults(func=cmd_export)

    report = commands.add_parser(
        "report", help="write a static HTML page of story clusters and per-site crawl health",
        description="Writes one self-contained HTML page (no scripts, no external resources): story clusters, "
        "newest then largest first, with near-duplicate copies folded under their canonical article, and per "
        "site articles per day and the share without a publication date.")
    _add_db(report)
    report.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    report.add_argument("--days", type=int, default=30, help="days in the per-site charts (default 30)")
    report.add_argument("--max-stories", type=int, default=200, metavar="N",
                        help="show at most N story clusters (default 200)")
    report.set_defaults(func=cmd_report)

    extract = commands.add_parser("extract", help="extract articles from saved HTML files (debugging, evaluation)",
                                  description="Prints one JSON object per input file, in input order. .gz files are read compressed.")
    extract.add_argument("files", nargs="+", metavar="FILE")
    extract.add_argument("--url", help="the URL the pages came from (helps relative links and site names)")
    extract.add_argument("--set", dest="settings", action="append", metavar="NAME=VALUE", default=[],
                         help="extract with this crawl setting, e.g. NEWSCRAWL_PRECISION_AGREEMENT=False (repeatable)")
    extract.set_defaults(func=cmd_extract)

    cluster = commands.add_parser("cluster", help="group a JSONL dump into near-duplicates and stories, without a database",
                                  description="Input records carry id, url, title, text, published_at; output adds dup_group_id and story_id.")
    cluster.add_argument("input", metavar="IN.jsonl")
    cluster.add_argument("-o", "--output", metavar="OUT.jsonl", help="output file (default: stdout)")
    cluster.set_defaults(func=cmd_cluster)

    reprocess = commands.add_parser(
        "reprocess", help="re-derive stored articles' text and metadata from their raw HTML",
        description="Re-extracts stored articles from their raw HTML with the current extractor and the "
        "site's learned boilerplate (e.g. after an upgrade). With --relearn, the site's block counts are "
        "rebuilt from the stored pages first. Near-duplicate and story groups are kept.")
    _add_db(reprocess)
    reprocess.add_argument("--site", metavar="SITE", help="only this site (as in the articles.site column)")
    reprocess.add_argument("--relearn", action="store_true", help="rebuild the site-level boilerplate counts first")
    reprocess.set_defaults(func=cmd_reprocess)

    status = commands.add_parser(
        "status", help="recent runs and per-site health",
        description="Shows the last runs (from crawl_runs) and, per site, articles per day, the share "
        "with no date and the extraction yield; warns when a site's yield drops sharply.")
    _add_db(status)
    status.add_argument("--runs", type=int, default=10, help="how many recent runs to show (default 10)")
    status.add_argument("--days", type=int, default=7, help="window for articles per day (default 7)")
    status.set_defaults(func=cmd_status)

    db = commands.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="create or migrate the schema to the current version",
                                     description="Create or migrate the schema to the current version.")
    _add_db(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)

    demo = commands.add_parser("demo", help="serve the bundled sample sites on loopback, crawl them, print the result",
                               description="Serves seeds/sites on 127.0.0.1, crawls them into SQLite and prints articles and story clusters.")
    demo.add_argument("--db", metavar="URL", default="sqlite:///newscrawl-demo.db",
                      help="database for the demo (default: sqlite:///newscrawl-demo.db)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    args.log_level = logging.getLevelName(level)
    try:
        return args.func(args)
    except ValueError as exc:  # bad arguments, bad files: a usage error, said plainly
        print(f"newscrawl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


# --- commands ---------------------------------------------------------------

def cmd_crawl(args) -> int:
    from crawler.run import build_settings, parse_setting_overrides, run_crawl
    from crawler.sites import DEFAULT_SITES_FILE, load_sites_file, parse_url_list

    urls = parse_url_list(args.urls)
    if not urls:
        urls = load_sites_file(args.sites or DEFAULT_SITES_FILE)
    overrides = parse_setting_overrides(args.settings)
    if args.refresh:
        overrides["NEWSCRAWL_REFRESH"] = "True"
    if args.since:
        from crawler.extract import parse_datetime

        if parse_datetime(args.since) is None:
            raise ValueError(f"--since expects an ISO 8601 date, got {args.since!r}")
        overrides["NEWSCRAWL_SINCE"] = args.since
    if args.quiet:
        overrides["NEWSCRAWL_PROGRESS"] = "False"
    if args.redis:
        import datetime as dt

        overrides["NEWSCRAWL_REDIS_URL"] = args.redis
        overrides["NEWSCRAWL_REDIS_RUN"] = args.redis_run or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H")
    elif args.redis_run:
        raise ValueError("--redis-run needs --redis")
    if args.warc:
        if Path(args.warc).exists() and not Path(args.warc).is_dir():
            raise ValueError(f"--warc {args.warc}: not a directory")
        overrides["NEWSCRAWL_WARC_DIR"] = args.warc
    settings = build_settings(args.db, overrides, args.allow_private, args.log_level)
    return _locked_run(settings, lambda: run_crawl(urls, settings), quiet=args.quiet)


def cmd_ingest(args) -> int:
    from crawler.run import build_settings, parse_setting_overrides, run_crawl
    from crawler.warc import WarcIngestSpider, print_ingest_summary, site_named, warc_paths

    paths = warc_paths(args.files, args.from_file)
    for site in args.sites:
        site_named(site)  # a bad --site is a usage error here, not a failed run
    overrides = parse_setting_overrides(args.settings)
    if args.since:
        from crawler.extract import parse_datetime

        if parse_datetime(args.since) is None:
            raise ValueError(f"--since expects an ISO 8601 date, got {args.since!r}")
        overrides["NEWSCRAWL_SINCE"] = args.since
    if args.sites:
        overrides["NEWSCRAWL_WARC_SITES"] = ",".join(args.sites)
    if args.refresh:
        overrides["NEWSCRAWL_REFRESH"] = "True"
    if args.quiet:
        overrides["NEWSCRAWL_PROGRESS"] = "False"
    settings = build_settings(args.db, overrides, log_level=args.log_level)
    reports = []

    def ingest():
        reports.append(run_crawl(paths, settings, WarcIngestSpider))
        return reports[-1]

    code = _locked_run(settings, ingest, quiet=args.quiet)
    if reports and not args.quiet:
        print_ingest_summary(reports[-1], sys.stdout)
    return code


def _locked_run(settings, crawl, quiet: bool = False, show_articles: bool = False) -> int:
    """Take the run lock, make sure the database is usable, crawl, summarise."""
    from crawler.runlock import LockedError, run_lock
    from models.db import redact

    database_url = settings.get("DATABASE_URL")
    if not _database_ready(database_url):
        return EXIT_FAILED
    try:
        if settings.get("NEWSCRAWL_REDIS_URL"):
            # Distributed mode: every worker of a run uses this database at once; the shared
            # frontier in Redis, not a lock, keeps them from doing the same work.
            report = crawl()
        else:
            with run_lock(database_url):
                report = crawl()
    except LockedError as exc:
        print(f"newscrawl: {exc}; {redact(database_url)} is being crawled, not starting a second run", file=sys.stderr)
        return EXIT_LOCKED
    return _summarise(report, database_url, show_articles=show_articles, quiet=quiet)


def _database_ready(database_url: str) -> bool:
    """Upgrade the schema before Scrapy starts, so an unreachable database is one clear error."""
    from sqlalchemy.exc import SQLAlchemyError

    from models.db import redact, upgrade

    try:
        upgrade(database_url)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"newscrawl: database {redact(database_url)} is not usable: {detail}", file=sys.stderr)
        return False
    return True


def _summarise(report, database_url: str, show_articles: bool = False, quiet: bool = False) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.report import print_articles_and_stories, print_crawl_summary, print_one_line
    from models.db import make_engine

    code = EXIT_FAILED if not report.ok else EXIT_PARTIAL if report.partial else EXIT_OK
    engine = make_engine(database_url)
    try:
        if quiet:
            if code != EXIT_OK:  # cron mails only what needs a look
                print_one_line(report, sys.stdout)
        else:
            print_crawl_summary(report, engine, sys.stdout)
            if show_articles:
                print_articles_and_stories(engine, sys.stdout)
    except SQLAlchemyError as exc:  # the database may be what failed the crawl
        print(f"Could not read the database for the summary: {type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    return code


def cmd_export(args) -> int:
    from crawler.export import ExportFilters, export
    from crawler.extract import parse_datetime
    from models.db import make_engine, upgrade

    since = None
    if args.since:
        since = parse_datetime(args.since)
        if since is None:
            raise ValueError(f"--since expects an ISO 8601 date, got {args.since!r}")
    filters = ExportFilters(since=since, sites=tuple(args.sites), story_id=args.story,
                            canonical_only=args.canonical_only)
    if args.format == "parquet" and not args.output:
        raise ValueError("--format parquet needs -o FILE")
    upgrade(args.db)  # the view is created by a migration
    engine = make_engine(args.db)
    try:
        count = export(engine, args.format, args.output, filters, stdout=sys.stdout)
    except BrokenPipeError:
        # The reader (head, a pager) stopped early: not a failure of the export. Point
        # stdout at /dev/null so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        engine.dispose()
    print(f"Exported {count} articles", file=sys.stderr)
    return EXIT_OK


def cmd_report(args) -> int:
    from crawler.htmlreport import render_report
    from models.db import make_engine, resolve_database_url

    if args.days < 1 or args.max_stories < 1:
        raise ValueError("--days and --max-stories must be at least 1")
    url = resolve_database_url(args.db)
    if not _database_ready(url):
        return EXIT_FAILED
    engine = make_engine(url)
    try:
        page = render_report(engine, days=args.days, max_stories=args.max_stories)
    finally:
        engine.dispose()
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"Wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(page)
    return EXIT_OK


def cmd_extract(args) -> int:
    import dataclasses

    from crawler.extract import ExtractionError, extract_article
    from crawler.pipelines import extraction_options
    from crawler.run import build_settings, parse_setting_overrides

    try:
        settings = build_settings(overrides=parse_setting_overrides(args.settings))
    except ValueError as exc:
        print(f"newscrawl extract: {exc}", file=sys.stderr)
        return 2
    # The crawl's extraction, but every text is printed: short ones too.
    options = dataclasses.replace(extraction_options(settings), min_text_chars=1)
    failures = 0
    for name in args.files:
        path = Path(name)
        try:
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
        except OSError as exc:
            print(f"newscrawl extract: cannot read {name}: {exc}", file=sys.stderr)
            failures += 1
            print(json.dumps({"file": name, "error": f"unreadable: {exc}", "text": ""}))
            continue
        url = args.url or f"file://{path.resolve()}"
        try:
            article = extract_article(data, url, options)
        except ExtractionError as exc:
            print(json.dumps({"file": name, "error": exc.reason, "title": None, "authors": [],
                              "published_at": None, "language": None, "text": ""}))
            continue
        record = {
            "file": name,
            "title": article.title,
            "authors": article.authors,
            "published_at": article.published_at.isoformat() if article.published_at else None,
            "language": article.language,
            "canonical_url": article.canonical_url,
            "text": article.text,
        }
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_FAILED if failures else EXIT_OK


def cmd_cluster(args) -> int:
    from dedupe.grouping import DocumentRecord, cluster_records
    from crawler.extract import parse_datetime

    records = []
    with open(args.input, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{args.input}:{lineno}: not JSON: {exc}") from None
            if "id" not in record or "text" not in record:
                raise ValueError(f"{args.input}:{lineno}: record needs 'id' and 'text'")
            records.append(record)
    docs = [
        DocumentRecord(r["id"], r["text"], parse_datetime(r.get("published_at")), parse_datetime(r.get("fetched_at")),
                       r.get("title"), r.get("language"))
        for r in records
    ]
    assignments = cluster_records(docs)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for record, assignment in zip(records, assignments):
            record["dup_group_id"] = assignment.dup_group_id
            record["story_id"] = assignment.story_id
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if args.output:
            out.close()
    groups = len({a.dup_group_id for a in assignments})
    print(f"Clustered {len(records)} records into {groups} near-duplicate groups", file=sys.stderr)
    return EXIT_OK


def cmd_reprocess(args) -> int:
    from crawler.reprocess import reprocess
    from crawler.run import build_settings
    from models.db import make_engine

    from crawler.runlock import LockedError, run_lock

    settings = build_settings(args.db)
    if not _database_ready(settings.get("DATABASE_URL")):
        return EXIT_FAILED
    engine = make_engine(settings.get("DATABASE_URL"))
    try:
        with run_lock(settings.get("DATABASE_URL")):
            report = reprocess(engine, settings, site=args.site, relearn=args.relearn,
                               progress=None if args.quiet else sys.stderr)
    except LockedError as exc:
        print(f"newscrawl: {exc}; not reprocessing during a crawl", file=sys.stderr)
        return EXIT_LOCKED
    finally:
        engine.dispose()
    print(f"Reprocessed {report.seen} articles: {report.changed} changed, {report.failed} kept as stored "
          f"(no text any more){', boilerplate relearned' if args.relearn else ''}")
    return EXIT_OK


def cmd_status(args) -> int:
    from crawler.status import print_status
    from models.db import make_engine, resolve_database_url

    url = resolve_database_url(args.db)
    if not _database_ready(url):
        return EXIT_FAILED
    engine = make_engine(url)
    try:
        warnings = print_status(engine, sys.stdout, runs=args.runs, days=args.days)
    finally:
        engine.dispose()
    return EXIT_OK if not warnings else EXIT_PARTIAL


def cmd_db_upgrade(args) -> int:
    from models.db import current_revision, make_engine, redact, resolve_database_url, upgrade

    url = resolve_database_url(args.db)
    upgrade(url)
    engine = make_engine(url)
    print(f"{redact(url)} is at revision {current_revision(engine)}")
    engine.dispose()
    return EXIT_OK


def cmd_demo(args) -> int:
    from crawler.run import build_settings, run_crawl
    from crawler.sampleserver import serve_sample_sites

    with serve_sample_sites(fixed_ports=True) as sites:
        print(f"Serving {len(sites.sites)} sample sites on 127.0.0.1:")
        for site in sites:
            print(f"  {site.name:<40} {', '.join(site.start_urls)}")
        settings = build_settings(args.db, {"AUTOTHROTTLE_START_DELAY": "0.1", "DOWNLOAD_DELAY": "0.05"},
                                  allow_private=True, log_level=args.log_level)
        return _locked_run(settings, lambda: run_crawl(sites.start_urls, settings), show_articles=True)


if __name__ == "__main__":
    sys.exit(main())
