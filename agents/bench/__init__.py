"""Measurements on the real broker: `hub bench` (throughput, delay, accuracy, peers) and the
live evaluation of detection and correlation (`hub evaluate --live`).

May import ``pipeline``, ``agents.runtime`` and ``agents.streams``.
"""
