"""Reads the calls schemathesis made (logged by schemathesis_hooks.after_call) and fails unless
every /v1 operation was answered with its success status and with a client error.

Usage: coverage_summary.py CALLS_TSV
"""

from __future__ import annotations

import collections
import sys

# operation -> the success status of SPEC §4
SUCCESS = {
    ("POST", "/v1/oauth2/tokens"): 201,
    ("POST", "/v1/obie/authorization_codes"): 201,
    ("POST", "/v1/obie/tokens"): 201,
    ("POST", "/v1/obie/tokens/introspection"): 200,
    ("POST", "/v1/obie/tokens/revocation"): 204,
    ("GET", "/healthz"): 200,
    ("GET", "/readyz"): 200,
}


def main(path: str) -> int:
    seen: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    with open(path, encoding="utf-8") as calls:
        for line in calls:
            method, route, status = line.rstrip("\n").split("\t")
            seen[(method, route)][int(status)] += 1

    missing = []
    print("statuses answered to schemathesis, per operation:")
    for (method, route), success in SUCCESS.items():
        statuses = seen.get((method, route), collections.Counter())
        print(f"  {method:4} {route:32} " + " ".join(f"{s}x{n}" for s, n in sorted(statuses.items())))
        if statuses[success] == 0:
            missing.append(f"{method} {route}: never answered {success}")
        if route.startswith("/v1/") and not any(400 <= s < 500 for s in statuses):
            missing.append(f"{method} {route}: never answered a 4xx")
    for problem in missing:
        print(f"NOT COVERED: {problem}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
