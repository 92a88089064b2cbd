"""Thin Celery tasks of the marketer's side (see each function)."""
