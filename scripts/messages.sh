#!/usr/bin/env bash
# Refreshes the translation catalogues (src/shipdesk/locale/{en,ru}) from every app's
# strings and compiles them. Needs GNU gettext (apt-get install gettext) on the machine
# that runs it; the compiled .mo files are committed, so nobody else needs gettext.
set -euo pipefail
cd "$(dirname "$0")/.."
SD="$PWD/.venv/bin/shipdesk"
export SHIPDESK_DATA_DIR=${SHIPDESK_DATA_DIR:-$(mktemp -d)}
cd src/shipdesk
"$SD" makemessages -l en -l ru --no-obsolete --no-location --ignore '*/tests/*' --ignore conftest.py
"$SD" compilemessages --locale en --locale ru
cd ../..
git status --short src/shipdesk/locale
