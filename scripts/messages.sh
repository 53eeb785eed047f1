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
# msgmerge "fuzzy-matches" new strings to old translations: wrong more often than not here,
# so such guesses are emptied (the Russian source shows until someone translates it).
"$(dirname "$SD")/python" - locale/*/LC_MESSAGES/django.po <<'PY'
import re, sys
for path in sys.argv[1:]:
    blocks = open(path, encoding="utf-8").read().split("\n\n")
    for i, block in enumerate(blocks[1:], 1):
        if "#, fuzzy" not in block and "#," not in block or "fuzzy" not in block.split("msgid")[0]:
            continue
        block = re.sub(r"^#\| .*\n", "", block, flags=re.M)
        block = re.sub(r"^(#,.*?)(, )?fuzzy(, )?", lambda m: m.group(1) + (", " if m.group(2) and m.group(3) else ""), block, flags=re.M)
        block = re.sub(r"^#,\s*\n", "", block, flags=re.M)
        block = re.sub(r'^(msgstr(?:\[\d+\])?) ".*"(\n".*")*', r'\1 ""', block, flags=re.M)
        blocks[i] = block
    open(path, "w", encoding="utf-8").write("\n\n".join(blocks))
PY
"$SD" compilemessages --locale en --locale ru
cd ../..
git status --short src/shipdesk/locale
