"""Imported by the extraction pool's fork server only: warms it up before it forks workers."""
import signal

from crawler.workers import warm_up

# The fork server ignores SIGINT itself; SIGTERM to the process group (systemd, timeout,
# kill -TERM -PGID) must not kill it under the running pool either. It exits when the
# crawl process does (its end of the fork server's pipe closes), and its workers inherit
# the disposition until die_with_parent sets theirs.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
warm_up()
