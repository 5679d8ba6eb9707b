"""Shared fixtures: the local sample sites, databases, and a CLI runner.

PostgreSQL and Redis tests run for real in CI (CI=true); only on a developer
machine without those services are they skipped.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from crawler.ops.sampleserver import serve_sample_sites

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("NEWSCRAWL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))


def service_unavailable(what: str, exc: Exception):
    if IN_CI:
        pytest.fail(f"{what} is required in CI but unreachable: {exc}")
    pytest.skip(f"{what} unreachable (allowed only outside CI): {exc}")


@pytest.fixture(scope="session")
def sample_sites():
    """The bundled sample news sites, each on its own loopback port."""
    with serve_sample_sites() as sites:
        yield sites


@pytest.fixture(scope="session")
def sites_file(sample_sites, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sites") / "sites.toml"
    path.write_text(sample_sites.sites_toml(), encoding="utf-8")
    return path


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``newscrawl`` entry point as users do."""
    full_env = {**os.environ, **(env or {})}
    script = Path(sys.executable).parent / "newscrawl"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "crawler.ops.cli"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def cli():
    return run_cli


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture
def redis_storage():
    """A datasketch Redis storage config with a basename unique to the test; keys removed afterwards."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis on 127.0.0.1:6379", exc)
    basename = f"newscrawl-test-{uuid.uuid4().hex[:10]}".encode()
    yield {"type": "redis", "redis": {"host": REDIS_HOST, "port": REDIS_PORT}, "basename": basename}
    for key in client.scan_iter(match=basename + b"*"):
        client.delete(key)
    client.close()
