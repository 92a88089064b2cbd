"""Benchmarks: `make bench` runs bench/run.py against throwaway PostgreSQL and Redis."""
