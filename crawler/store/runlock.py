"""One crawl at a time per database: two cron runs must not pile up.

SQLite: an exclusive ``flock`` on a file beside the database. PostgreSQL: a
session-level advisory lock, held on a dedicated connection for the run. Both
are released by the operating system or the server when the process dies,
even by SIGKILL, so a crashed run never blocks the next one. The PostgreSQL
lock can also be lost while the run lives (its connection ends): see
``PostgresRunLock.check``.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

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
    lock = PostgresRunLock(database_url)
    lock.acquire()
    _held[_lock_id(database_url)] = lock
    try:
        yield
    finally:
        _held.pop(_lock_id(database_url), None)
        lock.release()


# --- PostgreSQL: a lock that detects the loss of its connection --------------------------------
#
# The session-level advisory lock lives as long as its connection. A server restart, an
# idle_session_timeout or pg_terminate_backend ends that connection, the lock with it, and a
# second run could then start while this one goes on storing. So every commit of the crawl's
# store checks, in its own transaction, that this run's lock connection still holds the lock
# (and takes it again on a new connection when it is free). That check holds a shared
# transaction lock on a second key until the commit; a new run, once it has the run lock,
# takes that second key exclusively before it starts, so it waits for a commit that checked
# in time, and every later commit of the old run finds the lock gone and stops.

COMMIT_GATE_KEY = ADVISORY_LOCK_KEY + 1


class LockLostError(RuntimeError):
    """This run's lock was lost and another run holds it now: this run must stop storing."""


_held: dict[str, PostgresRunLock] = {}


def _lock_id(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


class PostgresRunLock:
    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url, poolclass=NullPool)
        self.conn = None
        self.backend_pid: int | None = None
        self._guard = threading.Lock()

    def _connect_and_lock(self, wait_for_gate: bool = True) -> bool:
        conn = self.engine.connect()
        try:
            with contextlib.suppress(Exception):  # PostgreSQL 14+: never end this idle session
                conn.execute(text("SET idle_session_timeout = 0"))
                conn.commit()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return False
            if wait_for_gate:
                # Wait for the commits of a run that lost this lock and had checked it just before.
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": COMMIT_GATE_KEY})
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": COMMIT_GATE_KEY})
            self.backend_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        return True

    def acquire(self) -> None:
        if not self._connect_and_lock():
            self.engine.dispose()
            raise LockedError("another newscrawl run holds the PostgreSQL advisory lock for this database")

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a lost connection has released it already
                self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                self.conn.commit()
            with contextlib.suppress(Exception):
                self.conn.close()
        self.engine.dispose()

    def check(self, conn) -> None:
        """Called before each commit on ``conn`` (a connection of the crawl's store)."""
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock_shared(%s)" % COMMIT_GATE_KEY)
        holder = conn.exec_driver_sql(
            # Advisory locks belong to a database: other databases on the server have their own runs.
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %d AND objid = %d" % (ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFFFFFF)
        ).scalar()
        if holder is not None and holder == self.backend_pid:
            return
        with self._guard:
            if holder is None:  # our connection died and nobody took the lock: take it again
                old, self.conn = self.conn, None
                with contextlib.suppress(Exception):
                    old.close()
                try:
                    # No gate wait: the commit calling this holds the gate itself, and the lock was
                    # ours until just now, so no other run has commits in flight.
                    if self._connect_and_lock(wait_for_gate=False):
                        logger.warning("The run lock's database connection was lost; lock taken again")
                        return
                except Exception as exc:  # the server is unreachable: the commit fails anyway
                    raise LockLostError(f"the run lock's database connection was lost: {exc}") from None
            raise LockLostError("this run lost its PostgreSQL run lock and another run holds it now; "
                                "stopping so that the two do not interleave")


def guard_engine(engine, database_url: str) -> None:
    """Make every commit on ``engine`` check this process's run lock for ``database_url``
    (PostgreSQL; SQLite's flock cannot be lost while the process lives)."""
    lock = _held.get(_lock_id(database_url))
    if lock is None or engine.dialect.name != "postgresql":
        return
    event.listen(engine, "commit", lock.check)
