"""Thin Celery tasks of the community app (see each module docstring)."""
