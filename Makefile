# The two commands: `make run` and `make test`. Everything else is a helper of those.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test install install-test demo lint format bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Embedded mode: SQLite and a file-system Celery broker under var/, web + worker + beat in the
# foreground (Ctrl-C stops all three). Set DATABASE_URL / CELERY_BROKER_URL to use Postgres/Redis.
run: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py demo_data
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} honcho start -f Procfile.dev

demo: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py demo_data

# Installs PostgreSQL, Redis and Chromium (apt, as root) when missing, starts throwaway servers,
# runs the linters, the migrations check and the whole suite against them.
test: install-test
	bash scripts/test.sh

lint: install-test
	ruff check .
	ruff format --check .

format: install-test
	ruff format .
	ruff check --fix .

bench: install-test
	bash scripts/test.sh --bench

clean:
	rm -rf $(VENV) var/test
