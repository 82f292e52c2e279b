# The front door: `make book` builds the site, `make test` runs every check CI runs.
# Both create the environment (.venv, from requirements.txt) when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test serve clean chromium

$(VENV)/installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

book: $(VENV)/installed
	$(BIN)/python -m atlas build

serve: book
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory _build/html 8000

# Debian's Chromium, for the tests that open the built site in a real browser
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/installed chromium
	$(BIN)/ruff check atlas scripts tests
	$(BIN)/ruff format --check atlas scripts tests
	$(BIN)/python -m atlas validate
	$(BIN)/python -m atlas format --check
	$(BIN)/python -m atlas notebooks --check
	$(BIN)/python tests/colab_venv.py
	$(BIN)/python -m pytest -n 2 --dist loadgroup

clean:
	rm -rf _build .colab-venv
