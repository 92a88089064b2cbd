# Production image of agency: one image for web (the default CMD), worker, beat and migrate.
#   docker compose up -d        (see docker-compose.yml and README.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=agency.settings \
    AGENCY_VAR_DIR=/app/var \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DJANGO_MEDIA_ROOT=/app/media

# WeasyPrint (PDF reports) renders with Pango and needs at least one font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 --user-group agency
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt .

COPY --chown=agency:agency . .

# Static files are baked into the image. Settings refuse to load without secrets, so the build
# passes throwaway ones; nothing here uses them and they are not kept in the image.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    FERNET_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXNlY3JldCE= \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput \
    && rm -rf /app/var \
    && mkdir -p /app/var /app/media \
    && chown agency:agency /app/var /app/media

USER agency
EXPOSE 8000

# Sync workers: one request per process, taken from the shared listen queue only when the
# process is free, behind the TLS proxy that buffers slow clients. gunicorn reads the number of
# processes from WEB_CONCURRENCY (4 per CPU suits the 2-CPU machine the load test measures).
ENV WEB_CONCURRENCY=8
CMD ["gunicorn", "agency.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "sync", "--access-logfile", "-"]
