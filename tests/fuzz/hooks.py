"""Schemathesis hooks for fuzzing the GraphQL API.

Schemathesis' own `not_a_server_error` treats every GraphQL error as a failure, including the
expected NOT_FOUND, FORBIDDEN and BAD_USER_INPUT answers to random input. What must never happen
is a server error: an HTTP 5xx, or an error whose extensions.code is INTERNAL_SERVER_ERROR.
"""

import schemathesis


@schemathesis.check
def no_internal_errors(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except Exception:
        return None
    for error in (body or {}).get("errors") or []:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"INTERNAL_SERVER_ERROR: {error.get('message')} at {error.get('path')}")
        if not extensions.get("code"):
            raise AssertionError(f"an error without extensions.code: {error.get('message')}")
    return None
