"""Serve the bundled sample news sites on loopback (demo, tests, benchmarks).

Each site in ``seeds/sites/<slug>/`` has a ``site.toml`` manifest and a
``public/`` tree. Every site gets its own port, because a site is told apart
by host and port on 127.0.0.1. ``{{BASE}}`` in text files becomes the site's
base URL, and ``{{SITE:<slug>}}`` another site's, so feeds, sitemaps and
canonical links are absolute as on real sites.
"""
from __future__ import annotations

import contextlib
import mimetypes
import socket
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SAMPLE_SITES_DIR = Path(__file__).resolve().parent.parent / "seeds" / "sites"
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
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def start_urls(self) -> list[str]:
        return [self.base_url + path for path in self.manifest.get("start", ["/"])]

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass
class SampleSites:
    sites: dict[str, SampleSite] = field(default_factory=dict)
    # Extra routes for tests: path -> handler(request) -> (status, headers, body).
    routes: dict[tuple[str, str], Callable] = field(default_factory=dict)
    # Every request served, as (slug, path-with-query), for tests that count fetches.
    request_log: list[tuple[str, str]] = field(default_factory=list)

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


def _handler_for(sites: SampleSites, site: SampleSite):
    public = (site.root / "public").resolve()
    redirects = {r["from"]: (r.get("status", 301), r["to"]) for r in site.manifest.get("redirect", [])}

    class Handler(BaseHTTPRequestHandler):
        server_version = "SampleNews/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test and demo output clean
            pass

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head: bool = False):
            path = unquote(urlsplit(self.path).path)
            sites.request_log.append((site.slug, self.path))
            route = sites.routes.get((site.slug, path))
            if route is not None:
                status, headers, body = route(self)
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
            return self._send(200, {"Content-Type": ctype}, data, head)

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
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


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
            site.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(sites, site))
            site.server.daemon_threads = True
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
