#!/usr/bin/env bash
# The Python contract checks, run by tests/contract/run.sh against a live `serve --sandbox`:
#   1. openapi-spec-validator: the document is valid OpenAPI;
#   2. the breaking-change guard against openapi/released/v1.json (and its self-test);
#   3. schemathesis with every check, a fixed seed and bounded examples (hooks and settings
#      beside this file);
#   4. a Python client generated from the document runs the whole flow (client_flow.py).
# Needs OBIE_BASE_URL, OBIE_OPENAPI and OBIE_CONTRACT_WORKDIR (set by tests/contract/run.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"
: "${OBIE_BASE_URL:?} ${OBIE_OPENAPI:?} ${OBIE_CONTRACT_WORKDIR:?}"

step() { printf '\n-- python: %s --\n' "$*"; }
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree

step "openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$OBIE_OPENAPI"

step "breaking-change guard against openapi/released/v1.json"
"$venv/bin/python" "$here/breaking_changes.py" --self-test "$root/openapi/released/v1.json"
"$venv/bin/python" "$here/breaking_changes.py" "$root/openapi/released/v1.json" "$OBIE_OPENAPI"

step "schemathesis: every check, fixed seed"
calls="$OBIE_CONTRACT_WORKDIR/schemathesis-calls.tsv"
rm -f "$calls"
(
    cd "$OBIE_CONTRACT_WORKDIR"
    PYTHONPATH="$here" SCHEMATHESIS_HOOKS=schemathesis_hooks \
        "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
        run "$OBIE_OPENAPI" --url "$OBIE_BASE_URL" \
        --report junit --report-dir "$OBIE_CONTRACT_WORKDIR/schemathesis-report"
)
# schemathesis passing is not enough: it must also have reached each operation's success
# path and its client errors, or the hooks have stopped doing their job.
"$venv/bin/python" "$here/coverage_summary.py" "$calls"

step "generated Python client: the whole flow"
client_dir="$OBIE_CONTRACT_WORKDIR/python-client"
rm -rf "$client_dir"
mkdir -p "$client_dir"
(
    cd "$client_dir"
    # The generator formats its output with ruff, which the venv provides.
    PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$OBIE_OPENAPI" \
        --meta none --output-path "$client_dir/obie_tokens_client" --overwrite
)
PYTHONPATH="$client_dir" "$venv/bin/python" "$here/client_flow.py"
