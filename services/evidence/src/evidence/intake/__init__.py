"""Turning partner submissions from INGEST into evidence, holds, voids, rejections and
decisions; the bookkeeping that makes a partner id count once, forever."""
