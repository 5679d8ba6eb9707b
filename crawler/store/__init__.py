"""Storage: articles, site learning, incremental state and the run lock.

Uses crawler.page, dedupe and models; knows nothing of Scrapy."""
