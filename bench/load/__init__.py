"""Load test harness (issue 9): gunicorn with production settings on PostgreSQL and Redis, a
database of 100,000 posts and 1,000,000 inbox messages, a real Celery worker publishing a
steady trickle of due posts, and 20 concurrent users on the dashboard pages and the API.
See bench/load/run.py."""
