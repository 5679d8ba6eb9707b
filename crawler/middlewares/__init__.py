"""Downloader and spider middlewares: request guards (scheme, private addresses,
charsets), remembered dead ends, web archives in and out, listing depth and
conditional GET. Each is enabled in crawler/settings.py by its full path."""
