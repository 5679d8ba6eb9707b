"""Per-URL noise from Scrapy's own components, moved to DEBUG.

The run's summary counts every failed fetch by reason with example URLs; a line
(or a traceback) per URL would bury the one line that needs a look."""
from __future__ import annotations

import logging

# Scrapy's robots.txt middleware logs every robots.txt it cannot fetch at ERROR, with a
# traceback; a dead or misspelt site gives one. The spider records the failure itself.
_PER_URL_ERRORS = {"scrapy.downloadermiddlewares.robotstxt": "Error downloading"}


class _ToDebug(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.prefix):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install() -> None:
    for name, prefix in _PER_URL_ERRORS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ToDebug) for f in logger.filters):
            logger.addFilter(_ToDebug(prefix))
