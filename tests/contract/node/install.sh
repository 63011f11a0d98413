#!/usr/bin/env bash
# Installs the Node side of `make contract`: the npm packages pinned by package-lock.json
# (redocly, @hey-api/openapi-ts, typescript, tsx, playwright-core) into ./node_modules, and
# Debian's Chromium for playwright-core to drive (no browser is downloaded by npm).
# Idempotent: npm ci runs only when the lockfile changed since the last install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm are needed (Node 20.19 or later)" >&2
    exit 1
fi

stamp="node_modules/.contract-lock.sha256"
wanted="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "npm packages up to date"
else
    # No lifecycle scripts: nothing here needs one (esbuild ships its binary as a package).
    npm ci --ignore-scripts --no-audit --no-fund
    echo "$wanted" >"$stamp"
fi

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

echo "node $(node --version), $(/usr/bin/chromium --version 2>/dev/null)"
