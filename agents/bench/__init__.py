"""Benchmarks behind `hub bench`."""
