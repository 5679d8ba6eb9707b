"""Downloader and spider middlewares: request guards (scheme, private addresses,
charsets), remembered dead ends, web archives in and out, listing depth and
conditional GET. Each is enabled in crawler/settings.py by its full path."""


class ResultFilter:
    """Base of a spider middleware that looks at each result of a callback on its own:
    ``_process`` returns the result (changed or not), or None to drop it. Scrapy calls the
    sync or the async variant depending on the callback."""

    def _process(self, response, result):
        return result

    def process_spider_output(self, response, result, spider=None):
        for entry in result:
            entry = self._process(response, entry)
            if entry is not None:
                yield entry

    async def process_spider_output_async(self, response, result, spider=None):
        async for entry in result:
            entry = self._process(response, entry)
            if entry is not None:
                yield entry
