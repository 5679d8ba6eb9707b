"""newscrawl: the Scrapy project (settings, spider, pipelines, middlewares) and the CLI."""

__version__ = "0.1.0"
