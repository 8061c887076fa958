"""Throughput and memory measurement harness (memory probes so far; timing suites follow)."""
