"""newscrawl: the Scrapy project (settings, spider, pipelines, middlewares) and the CLI."""
import functools

__version__ = "0.1.0"

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed (see limit_malloc_arenas)


@functools.lru_cache(maxsize=1)
def _glibc():
    """glibc, or None where another C library is the allocator."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - AttributeError when not glibc
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX=2 would), and give big blocks
    their own mappings.

    glibc gives each thread that allocates under contention its own arena, and
    memory freed into one arena is not reused by another. With the reactor
    parsing pages and the storage thread compressing and writing them, a crawl
    of 500 large pages measured 971 MB peak RSS with default arenas and 447 MB
    with two (bench/crawl_throughput.py).

    glibc also raises its mmap threshold to the size of each mmapped block freed
    (up to 32 MB): after the first 1 MB page, every page body below that is cut
    from the heap, between long-lived small objects, and the heap keeps the
    high-water mark of the bodies in flight for good. A fixed threshold (setting
    it turns the raising off) gives each body of 128 KB or more its own mapping,
    returned whole when freed. Call before threads start; a no-op where glibc is
    not the allocator.
    """
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(_M_ARENA_MAX, arenas)
    libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)  # fixed as well (glibc raised it with the other)


def return_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim), those
    between live blocks too, which freeing never returns. About a millisecond."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
