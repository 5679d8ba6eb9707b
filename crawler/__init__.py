"""newscrawl: the Scrapy project (settings, spider, pipelines, middlewares) and the CLI."""

__version__ = "0.1.0"


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX=2 would).

    glibc gives each thread that allocates under contention its own arena, and
    memory freed into one arena is not reused by another. With the reactor
    parsing pages and the storage thread compressing and writing them, a crawl
    of 500 large pages measured 971 MB peak RSS with default arenas and 447 MB
    with two (bench/crawl_throughput.py). Call before threads start; a no-op
    where glibc is not the allocator.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, arenas)  # -8 is M_ARENA_MAX
    except (OSError, AttributeError):
        pass
