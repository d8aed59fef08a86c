"""The API contract: schemathesis drives every /api/v1 operation from its OpenAPI document.

Each operation gets a bounded number of generated requests (derandomised, so every run sends the same
ones), schema-valid and schema-violating, with an editor token, an admin token and none; every check
runs (as `st run --checks all`): every answer must be no 5xx and must match the document (status code,
content type, headers, body schema), schema-valid requests must be accepted and schema-violating ones
refused. The operations are driven from one test per token through schemathesis' Python API, so a
failure lists every operation that broke the contract.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = 10
CONTRACT = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


# Addresses that could receive mail: the server refuses special-use domains (.test, .invalid) and the
# like, which JSON Schema's "email" format cannot express; malformed ones are still generated as
# negative cases by schemathesis.
schemathesis.openapi.format("email", st.from_regex(r"\A[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,2}@example\.(org|com|net)\Z"))


# Refusals that depend on what is stored or on rules no schema can say: an article URL already taken is a
# 422, and so is a section list naming one section twice (case and spaces do not count).
STATEFUL_REFUSALS = {
    ("POST", "/articles"): [positive_data_acceptance],
    ("PUT", "/sections"): [positive_data_acceptance],
}


@pytest.fixture(autouse=True)
def no_rate_limits(app_config):
    """Limits are tested on their own; here every generated request should reach its view."""
    app_config["RATE_LIMITS"] = "off"


def _broken_operations(app, headers: dict) -> list[str]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    broken = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _failure(operation, mode, headers)
            if failure:
                broken.append(f"{operation.method.upper()} {operation.path} ({mode}): {failure}")
    return broken


def _failure(operation, mode: GenerationMode, headers: dict) -> str | None:
    excluded = list(STATEFUL_REFUSALS.get((operation.method.upper(), operation.path), []))

    @CONTRACT
    @given(case=operation.as_strategy(generation_mode=mode))
    def keeps_the_contract(case):
        # A case whose negation is a missing or bad Authorization header is sent as generated, not with our token.
        header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
        negated_auth = header is not None and header.mode.is_negative
        case.call_and_validate(headers=None if negated_auth else headers, excluded_checks=excluded)

    try:
        keeps_the_contract()
    except (Exception, BaseExceptionGroup) as error:  # every failure is reported, not only the first
        return str(error)
    return None


def test_the_api_keeps_its_contract_with_a_token(app, admin_headers):
    broken = _broken_operations(app, admin_headers)
    assert broken == [], "\n\n".join(broken)


@pytest.fixture
def admin_headers(app) -> dict[str, str]:
    from fixtures.settings import smtp_utf8

    from newsletter.accounts.editors import create_editor
    from newsletter.models import EditorRole

    _admin, token = create_editor("Contract admin", role=EditorRole.ADMIN, smtp_utf8=smtp_utf8())
    return {"Authorization": f"Bearer {token}"}


def test_the_api_keeps_its_contract_with_an_admin_token(app, admin_headers):
    broken = _broken_operations(app, admin_headers)
    assert broken == [], "\n\n".join(broken)


def test_the_api_keeps_its_contract_without_a_token(app):
    broken = _broken_operations(app, {})
    assert broken == [], "\n\n".join(broken)
