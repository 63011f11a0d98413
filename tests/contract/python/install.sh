#!/usr/bin/env bash
# Installs the Python contract tools into tests/contract/.venv from the pinned
# requirements.txt. Idempotent: a stamp holding the hash of the requirements and of the
# interpreter skips the install when the venv already matches.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"
requirements="$here/requirements.txt"
python="${PYTHON:-python3}"

want="$( { sha256sum "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "python tools up to date in $venv"
    exit 0
fi

echo "installing python tools into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
# Every package is pinned in requirements.txt, dependencies included: install exactly those.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
"$venv/bin/python" -m pip check --disable-pip-version-check
echo "$want" >"$stamp"
"$venv/bin/schemathesis" --version
"$venv/bin/openapi-python-client" --version
