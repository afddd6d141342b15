# Two commands set everything up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo setup test bench eval mailcheck bench-scale bench-follow bench-selections clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/postroom --site examples/site run --once

# what the suite needs from the machine (Chromium, openssl): installed as root or with
# sudo that asks no password, else one line naming the command; CI runs it too (.ci/run)
setup:
	PYTHON='$(PYTHON)' tests/setup

# the suite twice, both passes at once: on SQLite and on a throwaway PostgreSQL server
# (tests/pg/suite; POSTROOM_TEST_SERIAL=1 runs them one after the other). setup comes
# first, so a machine that lacks something stops before the venv is made.
test: setup $(STAMP)
	$(BIN)/ruff check .
	tests/pg/suite $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/pickup.py

# capture intake scored on the labelled captures in ../shared/captures (read in place)
eval: $(STAMP)
	$(BIN)/python bench/eval.py

# the digest as SpamAssassin (local tests), tidy and Gmail's 102 KB clip see it
# (needs Debian's spamassassin and tidy)
mailcheck: $(STAMP)
	$(BIN)/python bench/mailcheck.py

# issue 19's numbers side by side in one run (bench/scale.py's docstring says how long):
# builds cold/warm/one new post next to Hugo (Debian's, apt-get installed when missing)
# and Pelican (its own venv, .venv-pelican) at 1,000 and 10,000 posts, postroom alone at
# 100,000; pick-up latency; sending vs a bare smtplib loop (Postfix's smtp-sink); load.
# bench/build.py and bench/deliver.py still run alone for their wider tables.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

# following feeds (under a minute): 200 RSS feeds served on 127.0.0.1 polled cold, all
# 304 and with 10 changed, next to a bare httpx + feedparser loop against the same server
bench-follow: $(STAMP)
	$(BIN)/python bench/follow.py

# readers' selections (under a minute): one slot of 100,000 subscribers over 50 selections
# (plan: group + render each edition; queue: the transaction), next to all on everything,
# on SQLite and PostgreSQL
bench-selections: $(STAMP)
	$(BIN)/python bench/selections.py

clean:
	rm -rf $(VENV) .venv-pelican examples/site/public examples/site/postroom.db
