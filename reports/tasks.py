"""Thin Celery tasks of reports (see each function)."""
