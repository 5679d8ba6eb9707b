"""Imported by the extraction pool's fork server only: warms it up before it forks workers."""
from crawler.workers import warm_up

warm_up()
