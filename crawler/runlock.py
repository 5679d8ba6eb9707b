"""One crawl at a time per database: two cron runs must not pile up.

SQLite: an exclusive ``flock`` on a file beside the database. PostgreSQL: a
session-level advisory lock, held on a dedicated connection for the run. Both
are released by the operating system or the server when the process dies,
even by SIGKILL, so a crashed run never blocks the next one.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Any constant works; this one spells "newscrawl" in the ASCII of its hex digits' shape.
ADVISORY_LOCK_KEY = 0x6E657773637261


class LockedError(RuntimeError):
    """Another run holds the lock."""


@contextlib.contextmanager
def run_lock(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database
        if not path or path == ":memory:":
            yield
            return
        lock_path = os.path.abspath(path) + ".lock"
        with open(lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(f"another newscrawl run holds {lock_path}") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_engine(database_url, poolclass=None)
    try:
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
            conn.commit()
            if not got:
                raise LockedError("another newscrawl run holds the PostgreSQL advisory lock for this database")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
