"""Pure functions of one page: its URL, kind, article decision and extraction.

Nothing here imports Scrapy, Twisted, SQLAlchemy or models: each function takes
bytes, text or a parsed tree and returns values, so a WARC record, a test and a
worker process can all call it."""
