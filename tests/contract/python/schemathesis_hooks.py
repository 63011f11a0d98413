"""schemathesis hooks: make generated requests meaningful to the sandbox.

Values the schema cannot express (which FI the credentials act for, a registered redirect URI,
a code or token the service issued a moment ago) are put into
the parts of a request that schemathesis generated as *valid*. Parts it generated as invalid
(negative testing) are left alone, so every rejection is still exercised. About one request in
five keeps its generated `fi_reference_id` (403 `fi_reference_forbidden`) or introspects a
generated token (`active: false`), so those answers stay covered too.

The credentials themselves (Basic, and the `ccg_token` API key) come from schemathesis.toml.
Loaded with SCHEMATHESIS_HOOKS=schemathesis_hooks (see run.sh).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
import zlib

import jsonschema
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters

BASE_URL = os.environ["OBIE_BASE_URL"].rstrip("/")
AUTHORIZATION = "Basic YXBpLWNvbnN1bWVyLWlkOnBhc3N3b3Jk"  # sandbox api-consumer-id:password
SANDBOX_HEADERS = {"fi_reference_id": "PSDGB-FCA-111111", "ccg_token": "good-access-token"}
REDIRECT_URIS = ("https://www.google.com", "https://psp.example/callback")


def _keep_generated(value: object) -> bool:
    """Deterministic (same seed, same run) choice to leave about 1 in 5 values as generated."""
    return zlib.crc32(repr(value).encode("utf-8", "surrogatepass")) % 5 == 0


def _post(path: str, body: dict, ccg_token: str | None = None) -> dict:
    headers = {
        "Authorization": AUTHORIZATION,
        "fi_reference_id": SANDBOX_HEADERS["fi_reference_id"],
        "version": "1",
        "Content-Type": "application/json",
    }
    if ccg_token:
        headers["ccg_token"] = ccg_token
    request = urllib.request.Request(
        BASE_URL + path, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def mint_code(redirect_uri: str) -> str:
    """A fresh authorization code from the service, for the sandbox PSP."""
    data = _post(
        "/v1/obie/authorization_codes",
        {"redirect_uri": redirect_uri, "state": "schemathesis", "consent_id": "consent-st"},
        ccg_token=SANDBOX_HEADERS["ccg_token"],
    )
    return data["auth_code"]


def mint_access_token() -> str:
    """A live access token, through the whole flow."""
    code = mint_code(REDIRECT_URIS[0])
    data = _post(
        "/v1/obie/tokens",
        {"auth_code": code, "redirect_uri": REDIRECT_URIS[0]},
        ccg_token=SANDBOX_HEADERS["ccg_token"],
    )
    return data["access_token"]


def _negated(case) -> set[tuple[str, ParameterLocation]]:
    return {(name, location) for name, location in negated_parameters(case._meta)}


def _body_is_valid(case) -> bool:
    """Whether the body as it is now fits the document's schema. Judged afresh because an
    OpenAPI link may have replaced a generated (invalid) body after generation."""
    path = case.operation.path
    if path not in _validators:
        content = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        # The whole document as the root resource, so "#/components/..." refs resolve.
        _validators[path] = jsonschema.Draft202012Validator({**DOCUMENT, **content["schema"]})
    return _validators[path].is_valid(case.body)


with open(os.environ["OBIE_OPENAPI"], encoding="utf-8") as _document:
    DOCUMENT = json.load(_document)
_validators: dict[str, jsonschema.Draft202012Validator] = {}


def _fill_headers(case, negated) -> None:
    headers = case.headers
    if not headers:
        return
    for name, value in SANDBOX_HEADERS.items():
        # Only headers that are there and were generated as valid; a removed or mutated one
        # is the point of its test case.
        generated_valid = name in headers and (name, ParameterLocation.HEADER) not in negated
        if generated_valid and not _keep_generated(headers[name]):
            headers[name] = value


def _fill_body(case) -> None:
    body = case.body
    if not isinstance(body, dict) or not _body_is_valid(case):
        return
    path = case.operation.path
    choice = zlib.crc32(repr(body).encode("utf-8", "surrogatepass")) % 2
    if path == "/v1/obie/authorization_codes":
        # Registration is data, not schema: an unregistered URI is a valid string the
        # service rightly refuses, so valid bodies name one of the PSP's URIs.
        if isinstance(body.get("redirect_uri"), str):
            body["redirect_uri"] = REDIRECT_URIS[choice]
    elif path == "/v1/obie/tokens":
        # A valid exchange needs a code the service issued and not yet redeemed, with the
        # redirect_uri it was issued for: one that came from an earlier response (an OpenAPI
        # link, schemathesis' value pool) is kept, else a fresh one is minted.
        # Claimed under the lock, so two concurrent cases never send the same code.
        code = body.get("auth_code")
        with _lock:
            redirect_uri = _issued_codes.pop(code, None) if isinstance(code, str) else None
        if redirect_uri is None:
            redirect_uri = REDIRECT_URIS[choice]
            body["auth_code"] = mint_code(redirect_uri)
        body["redirect_uri"] = redirect_uri
    elif path in ("/v1/obie/tokens/introspection", "/v1/obie/tokens/revocation"):
        token = body.get("access_token")
        with _lock:
            issued = token in _issued_tokens
        if isinstance(token, str) and not issued and not _keep_generated(body):
            body["access_token"] = mint_access_token()


# Codes (not yet sent) and tokens the service issued to schemathesis' own requests.
_lock = threading.Lock()
_issued_codes: dict[str, str] = {}  # code -> the redirect_uri it was issued for
_issued_tokens: set[str] = set()
CALLS_LOG = os.path.join(os.environ.get("OBIE_CONTRACT_WORKDIR", "."), "schemathesis-calls.tsv")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case._meta is None:
        return
    _fill_headers(case, _negated(case))
    _fill_body(case)
    if case.operation.path == "/v1/obie/tokens" and isinstance(case.body, dict):
        # Whatever is sent, positive or negative, may redeem the code: never offer it again.
        code = case.body.get("auth_code")
        if isinstance(code, str):
            with _lock:
                _issued_codes.pop(code, None)


@schemathesis.hook
def after_call(context, case, response):
    """Remembers what the service issued, and logs each call for run.sh's coverage summary."""
    data = None
    if response.status_code in (200, 201):
        try:
            data = response.json().get("data")
        except Exception:  # noqa: BLE001 - the checks judge the body; this only remembers
            data = None
    if isinstance(data, dict):
        with _lock:
            if "auth_code" in data and isinstance(case.body, dict):
                _issued_codes[data["auth_code"]] = case.body.get("redirect_uri")
            if case.operation.path == "/v1/obie/tokens" and "access_token" in data:
                _issued_tokens.add(data["access_token"])
    with _lock, open(CALLS_LOG, "a", encoding="utf-8") as log:
        log.write(f"{case.method.upper()}\t{case.operation.path}\t{response.status_code}\n")
