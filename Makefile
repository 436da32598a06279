# Two commands set everything up on a fresh machine:
#   make demo   run the portal with demo data on SQLite, http://127.0.0.1:5000
#   make test   run the whole suite (SQLite; PostgreSQL too when TEST_DATABASE_URL is set)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FLASK  := $(BIN)/flask --app wsgi
PYTEST_ARGS ?=

.PHONY: install translations messages demo run-demo test test-sqlite test-postgres screenshots lint format clean lock audit prod-check soak-short

# Dependencies come from requirements.lock, each checked against its hashes; the
# portal itself is installed editable on top, without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=78.1.1'
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d translations

install: $(STAMP) translations

# After adding or changing a user-facing string: extract, merge, then translate
# the new entries in translations/fr/LC_MESSAGES/messages.po (tests fail until then).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-comments=TRANSLATORS: \
		--project=health-data-rights-portal -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete

# The demo's port: emailed links follow it (flask demo-serve), e.g. make demo PORT=8080.
PORT ?= 5000

demo: install
	PORTAL_ENV=demo $(FLASK) db upgrade
	@test -s instance/warehouse.sqlite3 || PORTAL_ENV=demo $(FLASK) demo-data --citizens 2000
	PORTAL_ENV=demo $(FLASK) rules check
	PORTAL_ENV=demo $(FLASK) demo-requests
	@echo
	PORTAL_ENV=demo $(FLASK) staff demo
	@echo
	@echo "  Portal:        http://127.0.0.1:$(PORT)"
	@echo "  Demo mailbox:  http://127.0.0.1:$(PORT)/demo/mailbox  (emails are written to instance/mail/)"
	@echo "  Try it as a demo citizen, e.g. Camille Lefèvre-Dubois, born 1978-05-14,"
	@echo "  camille.lefevre@example.org, social-security number 278057505612390"
	@echo "  (all the demo citizens: docs/demo.md)."
	@echo "  File from another address and the status page asks for proof of identity: its"
	@echo "  FranceConnect button leads to the demo identity provider, /demo/identity, where"
	@echo "  you sign in as any demo citizen (real signed tokens, no account anywhere)."
	@echo "  Staff sign-in: http://127.0.0.1:$(PORT)/staff/login  as agent, dpo or admin: email,"
	@echo "  password and TOTP secret in the table above; the current code of an account:"
	@echo "  PORTAL_ENV=demo $(FLASK) staff code --email agent@demo.example"
	@echo "  Stop with Ctrl-C."
	@echo
	@PORTAL_ENV=demo $(FLASK) demo-serve --worker --host 127.0.0.1 --port $(PORT)

test: install
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
		$(MAKE) --no-print-directory test-sqlite && $(MAKE) --no-print-directory test-postgres; \
	else \
		$(MAKE) --no-print-directory test-sqlite; \
	fi

# The browser tests (tests/browser) drive Debian's Chromium against a real server on
# its own SQLite database: they run in the SQLite pass only, and are skipped, saying
# so, where /usr/bin/chromium is missing (apt-get install -y chromium chromium-driver).
CHROMIUM := /usr/bin/chromium

test-sqlite: install
	@echo "== tests on SQLite =="
	@if [ -x $(CHROMIUM) ]; then \
		echo "== browser tests: on, with $$($(CHROMIUM) --version 2>/dev/null) =="; \
	else \
		echo "== browser tests: SKIPPED, $(CHROMIUM) not found (apt-get install -y chromium chromium-driver) =="; \
	fi
	env -u TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	@echo "== tests on PostgreSQL ($(TEST_DATABASE_URL)), browser tests left to the SQLite pass =="
	TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

# Browser tests only, saving the screenshots of the README into docs/screenshots/.
screenshots: install
	SCREENSHOTS=1 env -u TEST_DATABASE_URL $(BIN)/pytest tests/browser $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# After changing a dependency in pyproject.toml: pin everything again, with hashes.
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --no-header --quiet -o requirements.lock
	sed -i '1i # Pinned dependencies with hashes, from pyproject.toml: `make lock` writes it (uv pip compile).\n# `make install` installs from it with --require-hashes; the container too.' requirements.lock

# The production shape tried end to end: Debian's nginx (TLS) before two gunicorn
# instances, two workers, PostgreSQL, Redis and an SMTP server (deploy/check.py).
prod-check: install
	$(BIN)/python deploy/check.py

# The soak with faults in 90 seconds (CI): its exit status says only whether anything
# was lost, doubled or answered uncleanly, never how fast it went.
soak-short: install
	$(BIN)/python bench/soak.py --minutes 1.5 --citizens 20

# Known advisories in the locked versions; needs the advisory database (PyPI or OSV).
audit: $(STAMP)
	$(BIN)/pip install --quiet pip-audit
	@$(BIN)/pip-audit --strict --require-hashes --disable-pip -r requirements.lock \
		|| { echo "pip-audit failed: advisories above, or its database could not be reached"; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
