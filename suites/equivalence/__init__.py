"""Parity harness: every framework against the float64 oracle, as tidy rows and a matrix."""
