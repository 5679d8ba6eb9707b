"""Engines, URL resolution and schema upgrades."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///newscrawl.db"
DATABASE_ENV_VAR = "NEWSCRAWL_DB"

# alembic/ sits at the repository root (the project is installed editable, as
# the README says); the migrations travel with the code that they describe.
ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


# A libpq keyword/value connection string starts with one of its keywords and "=".
_LIBPQ_KEYWORDS = re.compile(
    r"\s*(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|connect_timeout|options)\s*=",
    re.IGNORECASE)


def resolve_database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``$NEWSCRAWL_DB``, then the embedded SQLite default."""
    url = explicit or os.environ.get(DATABASE_ENV_VAR) or DEFAULT_DATABASE_URL
    if "://" not in url and _LIBPQ_KEYWORDS.match(url):
        # Taken as a path, "host=db password=..." would become an SQLite file of that name,
        # password included, and the crawl would go to it instead of the server.
        raise ValueError("the database looks like a libpq keyword string (host=... dbname=...); "
                         "write it as a URL: postgresql://user:password@host:port/dbname")
    if "://" not in url:
        # A plain path (``--db crawl.db``, ``--db /srv/news.db``) names an SQLite file.
        url = "sqlite:///" + str(Path(url).expanduser().resolve())
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# Where a database URL can carry a secret besides its userinfo: libpq reads these from the
# query string (postgresql://host/db?password=...) and from keyword/value strings
# ("host=db password=..."), which can also end up inside a URL (?options=, a plain path).
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
_SECRET_KEYWORDS = re.compile(
    r"\b(?P<key>(?:ssl)?password)(?P<sep>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|[^\s&;]*)", re.IGNORECASE)
HIDDEN = "***"


def redact(url: str) -> str:
    """The URL with its passwords hidden, for logs and summaries: the userinfo password,
    ``password=``/``sslpassword=`` query parameters, and the same keywords in a libpq
    keyword/value string. A string that is not a URL at all is redacted the same way."""
    try:
        parsed = make_url(url)
    except Exception:  # ArgumentError, ValueError...: not a URL; still no password shown
        return _hide_keywords(str(url))
    query = {
        key: HIDDEN if key.lower() in SECRET_PARAMETERS
        else _hide_keywords(value) if isinstance(value, str) else tuple(_hide_keywords(v) for v in value)
        for key, value in parsed.query.items()  # decoded: ?options=-c%20password%3D... is caught too
    }
    if parsed.database:
        parsed = parsed.set(database=_hide_keywords(parsed.database))
    return _hide_keywords(parsed.set(query=query).render_as_string(hide_password=True))


def _hide_keywords(text: str) -> str:
    return _SECRET_KEYWORDS.sub(rf"\g<key>\g<sep>{HIDDEN}", text)


class SecretURL(str):
    """A database URL that prints without its password.

    Scrapy logs every overridden setting at start-up ("Overridden settings:
    {...}") using repr(); a plain string would put the password in the log.
    The value itself is unchanged for SQLAlchemy."""

    def __repr__(self) -> str:
        return repr(redact(str(self)))


def make_engine(url: str) -> Engine:
    url = resolve_database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets readers (export, status) run during a crawl; foreign keys
            # are off by default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def check_writable(url: str) -> None:
    """Raise the database's own error if it cannot take a write (a read-only file,
    directory or server, a full disk): a crawl must find out before it starts.

    The probe writes nothing: an UPDATE that matches no row still needs the write
    lock on SQLite and a writable transaction on PostgreSQL."""
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
    finally:
        engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", resolve_database_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating it if empty)."""
    from alembic import command

    logger.info("Upgrading database %s to %s", redact(resolve_database_url(url)), revision)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
