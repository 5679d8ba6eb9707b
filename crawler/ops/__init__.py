"""Operations: the CLI and what it runs (export, status, summary, report, reprocess,
demo, sample server). Nothing imports crawler.ops."""
