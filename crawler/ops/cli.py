"""The ``newscrawl`` command line.

Exit codes (cron can act on them):
  0  success
  1  the run failed (database unusable, crawl aborted)
  2  usage error (bad arguments, unreadable sites file)
  3  the run finished, but more than NEWSCRAWL_MAX_FAILURE_SHARE of its fetches failed, or a
     start URL or a whole site yielded nothing because its fetches failed
130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM
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
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); 143 for SIGTERM: 128 + the signal's number, as shells report
EXIT_LOCKED = 75

logger = logging.getLogger("newscrawl")


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL (default: $NEWSCRAWL_DB, else sqlite:///newscrawl.db); "
        "PostgreSQL: postgresql+psycopg://user@host/dbname",
    )


def _common_options() -> argparse.ArgumentParser:
    """-v/-q accepted after the command too (``newscrawl crawl --quiet``). SUPPRESS keeps a
    subcommand from resetting what was given before the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more log output (-v info, -vv debug)")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only errors and the one-line result (for cron mail); no progress line")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscrawl",
        description="Crawl news sites, extract clean articles, store them and group duplicates and stories.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only errors and the one-line result (for cron mail); no progress line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()

    crawl = commands.add_parser("crawl", parents=[common], help="crawl start URLs or a sites file into the database",
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
        "export", parents=[common], help="write stored articles as JSONL, CSV or Parquet",
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
    export.add_argument("--story", type=_story_id, metavar="ID", help="only the articles of this story (story_id)")
    export.add_argument("--raw", action="store_true",
                        help="CSV: keep cells exactly as stored; by default a cell starting with = + - @ tab or CR "
                             "gets a leading ' so that a spreadsheet does not run it as a formula")
    export.add_argument("--canonical-only", action="store_true",
                        help="only each near-duplicate group's canonical article (is_canonical)")
    export.set_defaults(func=cmd_export)

    report = commands.add_parser(
        "report", parents=[common], help="write a static HTML page of story clusters and per-site crawl health",
        description="Writes one self-contained HTML page (no scripts, no external resources): story clusters, "
        "newest then largest first, with near-duplicate copies folded under their canonical article, and per "
        "site articles per day and the share without a publication date.")
    _add_db(report)
    report.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    report.add_argument("--days", type=int, default=30, help="days in the per-site charts (default 30)")
    report.add_argument("--max-stories", type=int, default=200, metavar="N",
                        help="show at most N story clusters (default 200)")
    report.set_defaults(func=cmd_report)

    extract = commands.add_parser("extract", parents=[common], help="extract articles from saved HTML files (debugging, evaluation)",
                                  description="Prints one JSON object per input file, in input order. .gz files are read compressed.")
    extract.add_argument("files", nargs="+", metavar="FILE")
    extract.add_argument("--url", help="the URL the pages came from (helps relative links and site names)")
    extract.add_argument("--set", dest="settings", action="append", metavar="NAME=VALUE", default=[],
                         help="extract with this crawl setting, e.g. NEWSCRAWL_PRECISION_AGREEMENT=False (repeatable)")
    extract.set_defaults(func=cmd_extract)

    cluster = commands.add_parser("cluster", parents=[common], help="group a JSONL dump into near-duplicates and stories, without a database",
                                  description="Input records carry id, url, title, text, published_at; output adds dup_group_id and story_id.")
    cluster.add_argument("input", metavar="IN.jsonl")
    cluster.add_argument("-o", "--output", metavar="OUT.jsonl", help="output file (default: stdout)")
    cluster.set_defaults(func=cmd_cluster)

    reprocess = commands.add_parser(
        "reprocess", parents=[common], help="re-derive stored articles' text and metadata from their raw HTML",
        description="Re-extracts stored articles from their raw HTML with the current extractor and the "
        "site's learned boilerplate (e.g. after an upgrade). With --relearn, the site's block counts are "
        "rebuilt from the stored pages first. Near-duplicate and story groups are kept.")
    _add_db(reprocess)
    reprocess.add_argument("--site", metavar="SITE", help="only this site (as in the articles.site column)")
    reprocess.add_argument("--relearn", action="store_true", help="rebuild the site-level boilerplate counts first")
    reprocess.set_defaults(func=cmd_reprocess)

    status = commands.add_parser(
        "status", parents=[common], help="recent runs and per-site health",
        description="Shows the last runs (from crawl_runs) and, per site, articles per day, the share "
        "with no date and the extraction yield; warns when a site's yield drops sharply.")
    _add_db(status)
    status.add_argument("--runs", type=int, default=10, help="how many recent runs to show (default 10)")
    status.add_argument("--days", type=int, default=7, help="window for articles per day (default 7)")
    status.set_defaults(func=cmd_status)

    db = commands.add_parser("db", parents=[common], help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser("upgrade", parents=[common], help="create or migrate the schema to the current version",
                                     description="Create or migrate the schema to the current version.")
    _add_db(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)

    demo = commands.add_parser("demo", parents=[common], help="serve the bundled sample sites on loopback, crawl them, print the result",
                               description="Serves seeds/sites on 127.0.0.1, crawls them into SQLite and prints articles and story clusters.")
    demo.add_argument("--db", metavar="URL", default="sqlite:///newscrawl-demo.db",
                      help="database for the demo (default: sqlite:///newscrawl-demo.db)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _story_id(value: str) -> int:
    """A story id as stored: a positive 64-bit integer."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a story id (a whole number), got {value!r}") from None
    if not 1 <= number <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"no story has the id {value} (ids are positive 64-bit numbers)")
    return number


def _logging_overrides(args) -> tuple[str | None, str | None]:
    """LOG_LEVEL and LOG_FILE given with ``--set`` (as ``scrapy crawl -s`` takes them)."""
    level = log_file = None
    for pair in getattr(args, "settings", None) or []:
        name, _, value = pair.partition("=")
        if name.strip() == "LOG_LEVEL" and value.strip():
            level = value.strip().upper()
        elif name.strip() == "LOG_FILE" and value.strip():
            log_file = value.strip()
    return level, log_file


def _configure_logging(args) -> None:
    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    set_level, log_file = _logging_overrides(args)
    if set_level is not None:
        from crawler.config import log_level_number

        if isinstance(log_level_number(set_level), int):
            level = log_level_number(set_level)  # an invalid name is refused with the other --set values
    handlers: list[logging.Handler] = []
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    # With LOG_FILE the log goes to the file, as with Scrapy; errors still reach the terminal (cron mail).
    console.setLevel(max(level, logging.ERROR) if log_file else level)
    handlers.append(console)
    if log_file:
        try:
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot write LOG_FILE {log_file}: {exc.strerror}") from None
        file_handler.setLevel(level)
        handlers.append(file_handler)
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    args.log_level = logging.getLevelName(level)


def _quiet_broken_pipe() -> int:
    """The reader of our output (head, a pager) stopped early: not a failure. Point
    stdout at /dev/null so that the interpreter's final flush does not raise again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _configure_logging(args)
        return args.func(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ValueError as exc:  # bad arguments, bad files, bad settings: a usage error, said plainly
        print(f"newscrawl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

        if isinstance(exc, (ArgumentError, NoSuchModuleError)):  # --db is not a database URL we can use
            print(f"newscrawl {args.command}: error: --db: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, SQLAlchemyError):  # read-only, locked, vanished database: one line, no traceback
            from models.db import redact, resolve_database_url

            print(f"newscrawl {args.command}: database {redact(resolve_database_url(getattr(args, 'db', None)))} "
                  f"failed: {_first_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
        raise


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


# --- commands ---------------------------------------------------------------

def cmd_crawl(args) -> int:
    from crawler.config import check_overrides
    from crawler.ops.run import build_settings, parse_setting_overrides, run_crawl
    from crawler.spiders.sites import (
        DEFAULT_SITES_FILE,
        load_sites_file,
        parse_url_list,
    )

    urls = parse_url_list(args.urls)
    if not urls:
        urls = load_sites_file(args.sites or DEFAULT_SITES_FILE)
    overrides = parse_setting_overrides(args.settings)
    check_overrides(overrides)
    if args.refresh:
        overrides["NEWSCRAWL_REFRESH"] = "True"
    if args.since:
        from crawler.page.dates import parse_datetime

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
    from crawler.ops.ingest import print_ingest_summary, warc_paths
    from crawler.ops.run import build_settings, parse_setting_overrides, run_crawl
    from crawler.spiders.warc import WarcIngestSpider, site_named

    paths = warc_paths(args.files, args.from_file)
    for site in args.sites:
        site_named(site)  # a bad --site is a usage error here, not a failed run
    overrides = parse_setting_overrides(args.settings)
    if args.since:
        from crawler.page.dates import parse_datetime

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
    """Take the run lock, make sure the database is usable, crawl, summarise.

    Start-up cost, step by step: the schema check (``_database_ready``) reads the Alembic
    revision, O(1) at head; the run lock is O(1) (a ``flock`` beside a SQLite file, one
    advisory-lock query on PostgreSQL); the crawl then starts its requests while the store
    loads the dedupe window in its own thread (``StoragePipeline.open_spider``)."""
    from crawler.store.runlock import LockedError, run_lock
    from models.db import redact

    database_url = settings.get("DATABASE_URL")
    if not _database_ready(database_url, writable=True):
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


def _database_ready(database_url: str, writable: bool = False) -> bool:
    """Upgrade the schema before Scrapy starts, so an unreachable database is one clear error.
    ``writable``: also make sure a write would succeed (a read-only file or server fails here,
    not with a traceback once the crawl has started)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from models.db import check_writable, redact, upgrade

    try:
        upgrade(database_url)
        if writable:
            check_writable(database_url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ValueError(f"--db {redact(database_url)} is not a database URL newscrawl can use: {exc}") from None
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"newscrawl: database {redact(database_url)} is not usable: {detail}", file=sys.stderr)
        return False
    return True


def _summarise(report, database_url: str, show_articles: bool = False, quiet: bool = False) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.ops.summary import (
        print_articles_and_stories,
        print_crawl_summary,
        print_one_line,
    )
    from models.db import make_engine

    if report.interrupted:
        # 128 + the signal's number, as a shell reports a process the signal killed.
        code = 128 + report.signal if report.signal else EXIT_INTERRUPTED
        print(f"newscrawl: crawl interrupted ({_signal_name(report.signal)}): "
              f"{report.count('newscrawl/articles/new')} new articles stored; the next run continues from there",
              file=sys.stderr)
        if quiet:
            return code
    else:
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


def _signal_name(number: int | None) -> str:
    import signal

    return signal.Signals(number).name if number else "signal"


def cmd_export(args) -> int:
    from crawler.ops.export import ExportFilters, export
    from crawler.page.dates import parse_datetime
    from models.db import make_engine, resolve_database_url

    since = None
    if args.since:
        since = parse_datetime(args.since)
        if since is None:
            raise ValueError(f"--since expects an ISO 8601 date, got {args.since!r}")
    filters = ExportFilters(since=since, sites=tuple(args.sites), story_id=args.story,
                            canonical_only=args.canonical_only)
    if args.format == "parquet" and not args.output:
        raise ValueError("--format parquet needs -o FILE")
    url = resolve_database_url(args.db)
    if not _database_ready(url):  # the view is created by a migration
        return EXIT_FAILED
    engine = make_engine(url)
    try:
        count = export(engine, args.format, args.output, filters, stdout=sys.stdout, raw=args.raw)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    finally:
        engine.dispose()
    print(f"Exported {count} articles", file=sys.stderr)
    return EXIT_OK


def cmd_report(args) -> int:
    from crawler.ops.report import render_report
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

    from crawler.config import CrawlConfig, check_overrides
    from crawler.ops.run import build_settings, parse_setting_overrides
    from crawler.page.extract import ExtractionError, extract_article

    overrides = parse_setting_overrides(args.settings)
    check_overrides(overrides)
    settings = build_settings(overrides=overrides)
    # The crawl's extraction, but every text is printed: short ones too.
    options = dataclasses.replace(CrawlConfig.from_settings(settings).extraction, min_text_chars=1)
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
            "author_organisations": article.author_organisations,
            "published_at": article.published_at.isoformat() if article.published_at else None,
            "language": article.language,
            "canonical_url": article.canonical_url,
            "text": article.text,
        }
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_FAILED if failures else EXIT_OK


def cmd_cluster(args) -> int:
    from crawler.page.dates import parse_datetime
    from dedupe.grouping import DocumentRecord, cluster_records

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
    from crawler.ops.reprocess import reprocess
    from crawler.ops.run import build_settings
    from crawler.store.runlock import LockedError, run_lock
    from models.db import make_engine

    settings = build_settings(args.db)
    if not _database_ready(settings.get("DATABASE_URL"), writable=True):
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
    from crawler.ops.status import print_status
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
    from models.db import current_revision, make_engine, redact, resolve_database_url

    url = resolve_database_url(args.db)
    if not _database_ready(url):
        return EXIT_FAILED
    engine = make_engine(url)
    print(f"{redact(url)} is at revision {current_revision(engine)}")
    engine.dispose()
    return EXIT_OK


def cmd_demo(args) -> int:
    from crawler.ops.run import build_settings, run_crawl
    from crawler.ops.sampleserver import serve_sample_sites

    with serve_sample_sites(fixed_ports=True) as sites:
        print(f"Serving {len(sites.sites)} sample sites on 127.0.0.1:")
        for site in sites:
            print(f"  {site.name:<40} {', '.join(site.start_urls)}")
        settings = build_settings(args.db, {"AUTOTHROTTLE_START_DELAY": "0.1", "DOWNLOAD_DELAY": "0.05"},
                                  allow_private=True, log_level=args.log_level)
        return _locked_run(settings, lambda: run_crawl(sites.start_urls, settings), show_articles=True)


if __name__ == "__main__":
    sys.exit(main())
