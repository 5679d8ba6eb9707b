"""Serve the bundled sample news sites on loopback (demo, tests, benchmarks).

Each site in ``seeds/sites/<slug>/`` has a ``site.toml`` manifest and a
``public/`` tree. Every site gets its own port, because a site is told apart
by host and port on 127.0.0.1. ``{{BASE}}`` in text files becomes the site's
base URL, and ``{{SITE:<slug>}}`` another site's, so feeds, sitemaps and
canonical links are absolute as on real sites.

Tests add misbehaviour on top: ``SampleSites.routes`` answers chosen paths
with any status, headers and body, or hands the raw socket to the route
(``send_raw``, ``reset_connection``) for lying headers, truncated bodies and
resets; ``delay`` slows every answer down; a site whose manifest says
``conditional_get = true`` serves ETag/Last-Modified and answers 304.
"""
from __future__ import annotations

import contextlib
import email.utils
import hashlib
import mimetypes
import socket
import struct
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SAMPLE_SITES_DIR = Path(__file__).resolve().parents[2] / "seeds" / "sites"
TEXT_SUFFIXES = {".html", ".htm", ".xml", ".txt", ".json", ".rss", ".atom"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class SampleSite:
    slug: str
    manifest: dict
    root: Path
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def name(self) -> str:
        return self.manifest.get("name", self.slug)

    @property
    def host(self) -> str:
        """The loopback address it listens on: 127.0.0.1 unless the manifest says
        ``host = "127.0.0.N"`` (benchmarks: each site its own address, as real sites
        are, so per-site limits apply per site and not to all of them at once)."""
        return self.manifest.get("host", "127.0.0.1")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def start_urls(self) -> list[str]:
        return [self.base_url + path for path in self.manifest.get("start", ["/"])]

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass(frozen=True)
class LoggedRequest:
    slug: str
    path: str  # with the query
    headers: dict[str, str]  # header names lower-cased


@dataclass
class SampleSites:
    sites: dict[str, SampleSite] = field(default_factory=dict)
    # Extra routes for tests: (slug, path) -> handler(request) -> (status, headers, body),
    # or None when the route wrote to (or dropped) the connection itself.
    routes: dict[tuple[str, str], Callable] = field(default_factory=dict)
    # Every request served, as (slug, path-with-query), for tests that count fetches.
    request_log: list[tuple[str, str]] = field(default_factory=list)
    # The same requests with their headers (conditional GET, User-Agent).
    requests: list[LoggedRequest] = field(default_factory=list)
    # Seconds to wait before answering each request: a slow server, for tests that interrupt a crawl.
    delay: float = 0.0

    def __getitem__(self, slug: str) -> SampleSite:
        return self.sites[slug]

    def __iter__(self) -> Iterator[SampleSite]:
        return iter(self.sites.values())

    @property
    def start_urls(self) -> list[str]:
        return [url for site in self for url in site.start_urls]

    def sites_toml(self) -> str:
        lines = []
        for site in self:
            lines += ["[[site]]", f'name = "{site.name}"', "start = [" + ", ".join(f'"{u}"' for u in site.start_urls) + "]", ""]
        return "\n".join(lines)

    def render(self, site: SampleSite, data: bytes) -> bytes:
        data = data.replace(b"{{BASE}}", site.base_url.encode())
        for other in self:
            data = data.replace(b"{{SITE:%s}}" % other.slug.encode(), other.base_url.encode())
        return data


def load_sample_sites(root: Path = SAMPLE_SITES_DIR) -> SampleSites:
    sites = SampleSites()
    for manifest_path in sorted(root.glob("*/site.toml")):
        manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
        slug = manifest.get("slug", manifest_path.parent.name)
        sites.sites[slug] = SampleSite(slug, manifest, manifest_path.parent)
    if not sites.sites:
        raise FileNotFoundError(f"no sample sites (*/site.toml) under {root}")
    return sites


def send_raw(request: BaseHTTPRequestHandler, data: bytes) -> None:
    """Write ``data`` to the socket as it is (status line and headers included),
    then close: for responses no well-behaved server sends."""
    request.wfile.write(data)
    request.wfile.flush()
    request.close_connection = True


def reset_connection(request: BaseHTTPRequestHandler, sent: bytes = b"") -> None:
    """Send ``sent`` (e.g. the headers and half a body), then abort the connection
    with a TCP reset (SO_LINGER 0) instead of an orderly close."""
    if sent:
        request.wfile.write(sent)
        request.wfile.flush()
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.connection.close()
    request.close_connection = True


def _not_modified(request: BaseHTTPRequestHandler, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        with contextlib.suppress(TypeError, ValueError):
            return int(mtime) <= email.utils.parsedate_to_datetime(if_modified_since).timestamp()
    return False


def _handler_for(sites: SampleSites, site: SampleSite):
    public = (site.root / "public").resolve()
    redirects = {r["from"]: (r.get("status", 301), r["to"]) for r in site.manifest.get("redirect", [])}
    conditional_get = bool(site.manifest.get("conditional_get", False))

    class Handler(BaseHTTPRequestHandler):
        server_version = "SampleNews/1.0"
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; on a kept-alive connection Nagle's algorithm
        # then holds the body until the client's delayed ACK (tens of ms): plain Scrapy
        # fetched the benchmark's pages at 36/s with it, as against hundreds per second without.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # keep test and demo output clean
            pass

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head: bool = False):
            path = unquote(urlsplit(self.path).path)
            sites.request_log.append((site.slug, self.path))
            sites.requests.append(LoggedRequest(site.slug, self.path, {k.lower(): v for k, v in self.headers.items()}))
            if sites.delay:
                time.sleep(sites.delay)
            route = sites.routes.get((site.slug, path))
            if route is not None:
                answer = route(self)
                if answer is None:  # the route wrote to, or dropped, the connection itself
                    self.close_connection = True
                    return None
                status, headers, body = answer
                return self._send(status, headers, body, head)
            if path in redirects:
                status, target = redirects[path]
                return self._send(status, {"Location": target}, b"", head)
            file = self._resolve(path)
            if file is None:
                body = b"<html><head><title>404 Not Found</title></head><body><h1>Not found</h1></body></html>"
                page = public / "404.html"
                if page.is_file():
                    body = sites.render(site, page.read_bytes())
                return self._send(404, {"Content-Type": "text/html; charset=utf-8"}, body, head)
            data = file.read_bytes()
            if file.suffix in TEXT_SUFFIXES:
                data = sites.render(site, data)
            ctype = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            headers = {"Content-Type": ctype}
            if conditional_get:
                mtime = file.stat().st_mtime
                headers["ETag"] = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
                headers["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
                if _not_modified(self, headers["ETag"], mtime):
                    return self._send(304, {"ETag": headers["ETag"]}, b"", head=True)
            return self._send(200, headers, data, head)

        def _resolve(self, path: str) -> Path | None:
            candidates = [path + "index.html", path + "index.xml"] if path.endswith("/") else [path, path + "/index.html"]
            for candidate in candidates:
                file = (public / candidate.lstrip("/")).resolve()
                if file.is_relative_to(public) and file.is_file():
                    return file
            return None

        def _send(self, status: int, headers: dict, body: bytes, head: bool) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if not any(key.lower() == "content-length" for key in headers):  # a route may lie about it
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


class _SampleServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that hang up (timeouts, cancelled oversize downloads) are expected; stay quiet.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def serve_sample_sites(root: Path = SAMPLE_SITES_DIR, fixed_ports: bool = False) -> Iterator[SampleSites]:
    """Serve every sample site; ``fixed_ports`` uses the manifests' ports
    (those in seeds/sites.toml) when they are free, else any free port."""
    sites = load_sample_sites(root)
    use_fixed = fixed_ports and all(_port_free(s.manifest.get("port", 0)) for s in sites if s.manifest.get("port"))
    threads = []
    try:
        for site in sites:
            port = site.manifest.get("port", 0) if use_fixed else 0
            site.server = _SampleServer((site.host, port), _handler_for(sites, site))
            site.port = site.server.server_address[1]
        for site in sites:
            thread = threading.Thread(target=site.server.serve_forever, name=f"sample-{site.slug}", daemon=True)
            thread.start()
            threads.append(thread)
        yield sites
    finally:
        for site in sites:
            if site.server is not None:
                site.server.shutdown()
                site.server.server_close()


def main() -> None:
    """Serve the sample sites at their fixed ports until interrupted."""
    import time

    with serve_sample_sites(fixed_ports=True) as sites:
        for site in sites:
            print(f"{site.name:<40} {', '.join(site.start_urls)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
