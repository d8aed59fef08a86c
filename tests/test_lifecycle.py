"""The edition lifecycle: one table, derived sets, one transition function, one 409 for every refusal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from newsletter.editions import cancel_edition, reopen_edition, send_edition
from newsletter.models import lifecycle
from newsletter.models.content import EditionStatus as S
from newsletter.models.lifecycle import Action, EditionConflict, transition

ROOT = Path(__file__).resolve().parent.parent / "newsletter"


def test_the_sets_the_code_uses_come_from_the_table():
    assert set(lifecycle.REBUILDABLE) == {S.DRAFT, S.SCHEDULED} == set(lifecycle.SENDABLE)
    assert set(lifecycle.HELD) == {S.PAUSED, S.CANCELLED}
    assert set(lifecycle.PUBLIC) == {S.SENDING, S.PAUSED, S.SENT, S.CANCELLED}
    from newsletter.delivery import claims

    assert claims.HELD is lifecycle.HELD


def test_only_the_lifecycle_module_lists_states_as_sets():
    """No other module spells a tuple or set of two or more edition states."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "lifecycle.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
                names = [
                    e.attr
                    for e in node.elts
                    if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "EditionStatus"
                ]
                if len(names) >= 2:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_refused_transition_names_the_current_state_and_changes_nothing(app, built_week):
    edition = built_week["ru"]
    with pytest.raises(EditionConflict) as refused:
        transition(edition, Action.RESUME)
    assert "is draft" in str(refused.value) and "resume" in str(refused.value)
    assert edition.status == "draft"


def test_cancel_reopen_send_works_without_deliveries(app, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru"])
    edition = built_week["ru"]
    cancel_edition(edition)
    assert edition.status == "cancelled"
    reopen_edition(edition)
    assert edition.status == "draft" and edition.cancelled_at is None
    assert send_edition(edition) == 1 and edition.status == "sending"


def test_reopen_is_refused_once_the_edition_has_deliveries(app, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru"])
    edition = built_week["ru"]
    send_edition(edition)
    cancel_edition(edition)
    with pytest.raises(EditionConflict) as refused:
        reopen_edition(edition)
    assert "cancelled" in str(refused.value) and "deliveries" in str(refused.value)
    assert edition.status == "cancelled"


def test_api_cancel_reopen_send_and_409_with_deliveries(client, editor_headers, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru", "en"])
    ru, en = built_week["ru"].id, built_week["en"].id
    assert client.post(f"/api/v1/editions/{ru}/cancel", headers=editor_headers).get_json()["status"] == "cancelled"
    reopened = client.post(f"/api/v1/editions/{ru}/reopen", headers=editor_headers)
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "draft"
    assert client.post(f"/api/v1/editions/{ru}/send", headers=editor_headers).status_code == 202
    assert client.post(f"/api/v1/editions/{en}/send", headers=editor_headers).status_code == 202
    client.post(f"/api/v1/editions/{en}/cancel", headers=editor_headers)
    refused = client.post(f"/api/v1/editions/{en}/reopen", headers=editor_headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == 409 and "cancelled" in refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/editions/{en}", headers=editor_headers).get_json()["status"] == "cancelled"


def test_cli_reopen_with_deliveries_is_a_clear_error(runner, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["be"])
    edition_id = str(built_week["be"].id)
    assert runner.invoke(args=["editions", "send", edition_id]).exit_code == 0
    assert runner.invoke(args=["editions", "cancel", edition_id]).exit_code == 0
    result = runner.invoke(args=["editions", "reopen", edition_id])
    assert result.exit_code == 1 and "cancelled" in result.output and "Traceback" not in result.output


def test_pause_and_resume_through_the_api_give_409_in_the_wrong_state(client, editor_headers, built_week):
    edition_id = built_week["be"].id
    response = client.post(f"/api/v1/editions/{edition_id}/pause", headers=editor_headers)
    assert response.status_code == 409 and "is draft" in response.get_json()["error"]["message"]


def test_outside_the_api_a_conflict_is_the_sites_error_page(app, built_week):
    """The console (issue 11) lets the one handler answer too: an HTML page with the same message."""

    @app.get("/console-probe/<int:edition_id>")
    def probe(edition_id):
        from newsletter.editions import get_edition, resume_edition

        resume_edition(get_edition(edition_id))
        return "moved"

    response = app.test_client().get(f"/console-probe/{built_week['ru'].id}")
    assert response.status_code == 409 and response.mimetype == "text/html"
    assert "is draft" in response.get_data(as_text=True)
