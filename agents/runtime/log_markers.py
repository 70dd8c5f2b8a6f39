"""Log lines other programs look for (``hub bench`` times workers by them): one spelling."""

FIRST_INPUT_LOG = "ingest: first input records at %.6f"
"""Logged once per worker process: the bench times a worker from here, as the peers
are timed from their first record."""
