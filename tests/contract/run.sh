#!/usr/bin/env bash
# `make contract`: checks the published contract from outside the Rust code.
# Installs its tools (pinned Python venv, npm lockfile), starts a live `serve --sandbox` on a
# free loopback port with a fresh database, then runs the Python and Node checks against it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

step() { printf '\n---- contract: %s ----\n' "$*"; }

step "install tools"
"$here/python/install.sh"
"$here/node/install.sh"

step "build the service"
cargo build --locked --quiet
binary="$root/target/debug/obie-tokens"

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$workdir"
}
trap cleanup EXIT

step "start serve --sandbox"
# The failed-authentication limit is off: the checks send many 401s on purpose.
RUST_LOG=warn,obie_tokens::app=info "$binary" serve --sandbox --bind 127.0.0.1:0 \
    --database-url "sqlite://$workdir/contract.db" --auth-failure-limit 0 \
    >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    address="$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$workdir/server.log" | sed -n 1p)"
    [ -n "$address" ] && break
    sleep 0.1
done
if [ -z "${address:-}" ]; then
    echo "the service did not start:" >&2
    cat "$workdir/server.log" >&2
    exit 1
fi
export OBIE_BASE_URL="$address"
export OBIE_OPENAPI="$root/openapi/openapi.json"
export OBIE_CONTRACT_WORKDIR="$workdir"
echo "serving at $OBIE_BASE_URL"

step "python checks"
"$here/python/run.sh"

step "node checks"
"$here/node/run.sh"

step "all contract checks passed"
