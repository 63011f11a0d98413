"""The whole SPEC §2 flow through a Python client generated from openapi/openapi.json.

run.sh generates the package `obie_tokens_client` with openapi-python-client into
$OBIE_CONTRACT_WORKDIR and puts it on PYTHONPATH; this script uses only what the generator
made from the document: its operations, its request and response models, and its typed error
envelope. Exits non-zero on the first broken expectation.
"""

from __future__ import annotations

import base64
import os
import sys

from obie_tokens_client import AuthenticatedClient
from obie_tokens_client.api.access_tokens import (
    create_access_token,
    introspect_access_token,
    revoke_access_token,
)
from obie_tokens_client.api.authorization_codes import create_authorization_code
from obie_tokens_client.api.ccg_tokens import create_ccg_token
from obie_tokens_client.api.health import get_readiness
from obie_tokens_client.models import (
    AccessTokenCreated,
    ApiVersion,
    AuthCodeCreated,
    AuthCodeRequest,
    CcgTokenCreated,
    CcgTokenRequest,
    ErrorEnvelope,
    GrantType,
    TokenReference,
    TokenRequest,
    TokenStatusResult,
    TokenType,
)

BASE_URL = os.environ["OBIE_BASE_URL"]
FI = "PSDGB-FCA-111111"
PSP = "PSDGB-FCA-123456"
REDIRECT_URI = "https://www.google.com"
CREDENTIALS = base64.b64encode(b"api-consumer-id:password").decode()


def expect(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main() -> None:
    # Basic credentials as the generated client's Authorization header (RFC 7617).
    fi_client = AuthenticatedClient(
        base_url=BASE_URL, token=CREDENTIALS, prefix="Basic", raise_on_unexpected_status=True
    )
    v1 = ApiVersion.V1
    expect(str(v1) == "1", "the version enum carries '1'")

    ready = get_readiness.sync_detailed(client=fi_client)
    expect(ready.status_code == 200, "the service is ready")

    # 1. ccg_token for the PSP (client-credentials grant).
    ccg = create_ccg_token.sync(
        client=fi_client,
        fi_reference_id=FI,
        version=v1,
        body=CcgTokenRequest(
            grant_type=GrantType.CLIENT_CREDENTIALS, psp_id=PSP, scope="accounts payments"
        ),
    )
    expect(isinstance(ccg, CcgTokenCreated), "step 1 answers CcgTokenCreated")
    expect(ccg.data.token_type == TokenType.BEARER, "the ccg_token is a bearer token")
    psp_client = fi_client.with_headers({"ccg_token": ccg.data.access_token})

    # 2. authorization code, once the PSU has consented.
    code = create_authorization_code.sync(
        client=psp_client,
        fi_reference_id=FI,
        version=v1,
        body=AuthCodeRequest(
            redirect_uri=REDIRECT_URI,
            scope="accounts",
            state="xyz",
            consent_id="consent-42",
            psu_account_id="acc-7",
        ),
    )
    expect(isinstance(code, AuthCodeCreated), "step 2 answers AuthCodeCreated")
    expect(
        code.data.redirect_to.startswith(REDIRECT_URI + "/?code=")
        and code.data.redirect_to.endswith("&state=xyz"),
        f"redirect_to carries the code and the state ({code.data.redirect_to})",
    )

    # 3. access token in exchange for the code.
    exchange = create_access_token.sync_detailed(
        client=psp_client,
        fi_reference_id=FI,
        version=ApiVersion.LATEST,
        body=TokenRequest(auth_code=code.data.auth_code, redirect_uri=REDIRECT_URI),
    )
    expect(exchange.status_code == 201, "step 3 answers 201")
    expect(exchange.headers.get("cache-control") == "no-store", "the token is not cached")
    token = exchange.parsed
    expect(isinstance(token, AccessTokenCreated), "step 3 answers AccessTokenCreated")
    expect(token.data.state == "xyz", "the token response echoes the state")
    access_token = token.data.access_token

    # 4. introspection: active, whose, which consent.
    status = introspect_access_token.sync(
        client=fi_client,
        fi_reference_id=FI,
        version=v1,
        body=TokenReference(access_token=access_token),
    )
    expect(isinstance(status, TokenStatusResult), "step 4 answers TokenStatusResult")
    expect(status.data.active is True, "the new token is active")
    expect(
        (status.data.psp_id, status.data.fi_reference_id, status.data.scope, status.data.consent_id)
        == (PSP, FI, "accounts", "consent-42"),
        "introspection names the PSP, FI, scope and consent",
    )

    # 5. revocation, then introspection again.
    revoked = revoke_access_token.sync_detailed(
        client=fi_client,
        fi_reference_id=FI,
        version=v1,
        body=TokenReference(access_token=access_token),
    )
    expect(revoked.status_code == 204, "step 5 answers 204")
    status = introspect_access_token.sync(
        client=fi_client,
        fi_reference_id=FI,
        version=v1,
        body=TokenReference(access_token=access_token),
    )
    expect(status.data.active is False, "the revoked token is inactive")

    # A failure through the typed error model: the code is single-use.
    replay = create_access_token.sync_detailed(
        client=psp_client,
        fi_reference_id=FI,
        version=v1,
        body=TokenRequest(auth_code=code.data.auth_code, redirect_uri=REDIRECT_URI),
    )
    expect(replay.status_code == 400, "a replayed code answers 400")
    envelope = replay.parsed
    expect(isinstance(envelope, ErrorEnvelope), "the 400 parses into ErrorEnvelope")
    first = envelope.errors[0]
    expect(first.code == "auth_code_used", f"errors[0].code is auth_code_used ({first.code})")
    expect(first.id == replay.headers.get("x-request-id"), "errors[0].id is the x-request-id")
    expect(first.link.endswith("/docs/errors#auth_code_used"), "errors[0].link names the code")

    print("generated Python client: the whole flow passed")


if __name__ == "__main__":
    main()
