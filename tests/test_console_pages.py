"""Console pages over the services: this week, articles, subscribers, editions, sending, activity log."""

from __future__ import annotations

import io
import json
from datetime import date

from fixtures.console import post_form
from sqlalchemy import func, select

from newsletter.core.extensions import db
from newsletter.editions.editorial import editorial_json
from newsletter.models import ActivityEntry, Article, Edition, Subscriber, Suppression

ADMIN_PAGES = ("/console/editors", "/console/suppressions")
PAGES = (
    "/console/week",
    "/console/articles",
    "/console/articles/new",
    "/console/subscribers",
    "/console/activity",
    "/console/account",
)


def test_every_page_renders_for_an_admin(admin_client, built_week):
    edition = built_week["en"]
    for path in (
        PAGES
        + ADMIN_PAGES
        + (
            f"/console/editions/{edition.id}",
            f"/console/editions/{edition.id}/send",
            f"/console/editions/{edition.id}/sending",
        )
    ):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"


def test_build_the_week_from_the_console_is_logged(admin_client, imported_samples):
    response = post_form(admin_client, "/console/week/build", {"week": "2022-01-12"}, token_from="/console/week")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Edition)) == 3
    entry = db.session.scalars(select(ActivityEntry)).one()
    assert (entry.actor, entry.channel, entry.action, entry.subject) == ("Alena", "console", "build", "week 2022-01-10")
    assert "Build: week 2022-01-10" in admin_client.get("/console/activity").get_data(as_text=True)


def test_article_form_with_every_field_empty_shows_each_error(editor_client):
    response = post_form(editor_client, "/console/articles/new", {}, token_from="/console/week")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("section", "title", "summary", "url", "published_at"):
        assert f'id="{field}-error"' in page, field
    assert page.count("This field is required.") >= 5
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0


def test_article_form_with_too_long_fields_keeps_nothing(editor_client):
    data = {
        "language": "en",
        "section": "s" * 201,
        "title": "t" * 501,
        "summary": "x",
        "url": "https://e.org/a",
        "published_at": "2022-01-12T10:00",
    }
    response = post_form(editor_client, "/console/articles/new", data, token_from="/console/week")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "This is too long (at most 200 characters)." in page
    assert "at most 500 characters" in page
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0


def test_article_create_edit_delete(editor_client):
    data = {
        "language": "ru",
        "section": "Экономика",
        "title": "Заголовок",
        "summary": "Текст",
        "url": "https://example.org/a",
        "published_at": "2022-01-12T10:00",
    }
    assert post_form(editor_client, "/console/articles/new", data, token_from="/console/week").status_code == 302
    article = db.session.scalars(select(Article)).one()
    assert article.published_at.isoformat() == "2022-01-12T07:00:00+00:00"
    data["title"] = "Новый заголовок"
    post_form(editor_client, f"/console/articles/{article.id}", data, token_from="/console/week")
    db.session.refresh(article)
    assert article.title == "Новый заголовок"
    post_form(editor_client, f"/console/articles/{article.id}/delete", token_from="/console/week")
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0


def _upload(client, path, content: bytes, name: str, mimetype: str):
    return post_form(
        client,
        path,
        {"file": (io.BytesIO(content), name, mimetype)},
        token_from="/console/week",
        content_type="multipart/form-data",
    )


def test_json_upload_is_all_or_nothing(editor_client, samples_path):
    document = json.loads(samples_path.read_text())
    document["articles"][1]["url"] = "not a url"
    response = _upload(
        editor_client, "/console/articles/upload", json.dumps(document).encode(), "a.json", "application/json"
    )
    assert (
        response.status_code == 422
        and "Article 2, url: Enter a full http:// or https:// address." in response.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0
    good = _upload(editor_client, "/console/articles/upload", samples_path.read_bytes(), "a.json", "application/json")
    assert good.status_code == 200 and db.session.scalar(select(func.count()).select_from(Article)) > 0


def test_upload_that_is_not_json_or_csv_is_refused(editor_client):
    response = _upload(editor_client, "/console/articles/upload", b"GIF89a", "picture.gif", "image/gif")
    assert response.status_code == 422 and "This is not a JSON file." in response.get_data(as_text=True)
    response = _upload(editor_client, "/console/subscribers/import", b"GIF89a", "picture.gif", "image/gif")
    assert response.status_code == 422 and "This is not a CSV file." in response.get_data(as_text=True)


def test_upload_that_is_too_large_is_refused(app, editor_client):
    app.config["CONSOLE_UPLOAD_BYTES"] = 4096
    big = b"email,languages\n" + b"someone@example.org,en\n" * 400
    response = _upload(editor_client, "/console/subscribers/import", big, "list.csv", "text/csv")
    assert response.status_code == 413 and "too large (at most 4 KB)" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_csv_import_reports_each_bad_line_and_keeps_the_good(editor_client):
    csv_bytes = b"email,languages\nanna@example.org,ru|en\nnot-an-address,ru\nboris@example.org,xx\n"
    response = _upload(editor_client, "/console/subscribers/import", csv_bytes, "list.csv", "text/csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Line 3" in page and "Line 4" in page
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_lookup_is_by_exact_normalised_address_and_admin_erases(admin_client, make_subscriber):
    make_subscriber("anna@example.org", ["ru", "en"])
    page = post_form(
        admin_client, "/console/subscribers/lookup", {"email": " anna@EXAMPLE.org "}, token_from="/console/week"
    ).get_data(as_text=True)
    assert "ru, en" in page or "en, ru" in page
    subscriber_id = db.session.scalar(select(Subscriber.id))
    assert (
        post_form(admin_client, f"/console/subscribers/{subscriber_id}/erase", token_from="/console/week").status_code
        == 302
    )
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_an_editor_cannot_erase_or_edit_the_suppression_list(editor_client, make_subscriber):
    make_subscriber("anna@example.org", ["en"])
    subscriber_id = db.session.scalar(select(Subscriber.id))
    assert (
        post_form(editor_client, f"/console/subscribers/{subscriber_id}/erase", token_from="/console/week").status_code
        == 403
    )
    assert (
        post_form(
            editor_client, "/console/suppressions/remove", {"email": "anna@example.org"}, token_from="/console/week"
        ).status_code
        == 403
    )
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_admin_removes_a_suppression(admin_client):
    db.session.add(Suppression(email="gone@example.org", reason="550 no such user"))
    db.session.commit()
    assert "550 no such user" in admin_client.get("/console/suppressions").get_data(as_text=True)
    post_form(admin_client, "/console/suppressions/remove", {"email": "gone@example.org"}, token_from="/console/week")
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_send_confirmation_shows_the_real_count_and_sends(editor_client, built_week, make_subscriber):
    for index in range(3):
        make_subscriber(f"reader{index}@example.org", ["en"])
    make_subscriber("ru-only@example.org", ["ru"])
    edition = built_week["en"]
    page = editor_client.get(f"/console/editions/{edition.id}/send").get_data(as_text=True)
    assert "Send to 3 subscribers now?" in page
    response = post_form(editor_client, f"/console/editions/{edition.id}/send", token_from="/console/week")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/editions/{edition.id}/sending")
    db.session.refresh(edition)
    assert edition.status == "sending"


def test_sending_an_edition_another_editor_just_cancelled_shows_the_conflict(
    editor_client, built_week, make_subscriber
):
    from newsletter.delivery import ledger

    make_subscriber("reader@example.org", ["en"])
    edition = built_week["en"]
    editor_client.get(f"/console/editions/{edition.id}/send")
    from newsletter import editions

    editions.cancel_edition(edition)
    response = post_form(editor_client, f"/console/editions/{edition.id}/send", token_from="/console/week")
    assert response.status_code == 409 and "Someone else changed this edition first" in response.get_data(as_text=True)
    assert ledger.edition_counts(edition.id)["total"] == 0


def test_schedule_in_the_past_is_refused(editor_client, built_week):
    edition = built_week["en"]
    response = post_form(
        editor_client,
        f"/console/editions/{edition.id}/schedule",
        {"at": "2020-01-01T09:00"},
        token_from="/console/week",
    )
    assert response.status_code == 422 and "This time has already passed." in response.get_data(as_text=True)
    db.session.refresh(edition)
    assert edition.status == "draft" and edition.scheduled_for is None


def test_preview_is_sandboxed_and_carries_its_own_policy(editor_client, built_week):
    edition = built_week["ru"]
    page = editor_client.get(f"/console/editions/{edition.id}").get_data(as_text=True)
    assert page.count('sandbox=""') == 3
    preview = editor_client.get(f"/console/editions/{edition.id}/preview")
    assert preview.status_code == 200 and "script-src" not in preview.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]


def test_test_send_to_self_writes_an_eml(editor_client, built_week, outbox):
    edition = built_week["en"]
    response = post_form(
        editor_client, f"/console/editions/{edition.id}/test", {"to": "me"}, token_from="/console/week"
    )
    assert response.status_code == 302
    assert len(list(outbox.glob("*.eml"))) == 1


def test_api_and_cli_actions_are_in_the_activity_log(client, runner, editor_headers, built_week):
    edition = built_week["en"]
    assert client.post(f"/api/v1/editions/{edition.id}/cancel", headers=editor_headers).status_code == 200
    runner.invoke(args=["editions", "build", "--week", "2022-01-10"])
    entries = db.session.scalars(select(ActivityEntry).order_by(ActivityEntry.id)).all()
    assert [(e.channel, e.action, e.subject) for e in entries] == [
        ("api", "cancel", f"edition {edition.id}"),
        ("cli", "build", "week 2022-01-10"),
    ]
    assert entries[0].actor == "Test editor"
    assert date(2022, 1, 10)


def _editorial_form(client, edition) -> dict:
    """The editorial form's current values, as the browser would post them."""
    from newsletter.editions import overview

    data = {"subject": "", "preheader": "", "intro": "", "lead_article_id": ""}
    for row in overview.editorial_rows(edition):
        data[f"position_{row.article.id}"] = str(row.position)
        data[f"trend_{row.article.id}"] = row.article.trend or ""
        if row.included:
            data[f"include_{row.article.id}"] = "1"
    return data


def test_intro_order_exclusion_and_trend_in_one_save(editor_client, built_week):
    from newsletter.editions import overview

    edition = built_week["ru"]
    rows = overview.editorial_rows(edition)
    first, last = rows[0].article, rows[-1].article
    data = _editorial_form(editor_client, edition)
    data.update({"intro": "Главное за неделю", f"position_{last.id}": "0", f"trend_{first.id}": "worse"})
    del data[f"include_{rows[1].article.id}"]
    response = post_form(editor_client, f"/console/editions/{edition.id}/editorial", data, token_from="/console/week")
    assert response.status_code == 302
    db.session.refresh(edition)
    assert edition.intro == "Главное за неделю" and editorial_json(edition)["article_ids"][0] == last.id
    assert edition.excluded_article_ids == [rows[1].article.id]
    assert db.session.get(Article, first.id).trend == "worse"
    assert "Главное за неделю" in editor_client.get(f"/console/editions/{edition.id}").get_data(as_text=True)


def test_editorial_fields_too_long_change_nothing(editor_client, built_week):
    edition = built_week["en"]
    data = _editorial_form(editor_client, edition)
    data.update({"subject": "s" * 300, "intro": "kept?"})
    response = post_form(editor_client, f"/console/editions/{edition.id}/editorial", data, token_from="/console/week")
    assert response.status_code == 422 and "This is too long (at most 200 characters)." in response.get_data(
        as_text=True
    )
    db.session.refresh(edition)
    assert edition.intro is None and edition.subject_override is None


def test_unschedule_and_reopen_from_the_console(editor_client, built_week):
    edition = built_week["en"]
    post_form(
        editor_client,
        f"/console/editions/{edition.id}/schedule",
        {"at": "2999-01-04T09:00"},
        token_from="/console/week",
    )
    db.session.refresh(edition)
    assert edition.status == "scheduled"
    post_form(editor_client, f"/console/editions/{edition.id}/unschedule", token_from="/console/week")
    db.session.refresh(edition)
    assert edition.status == "draft"
    post_form(editor_client, f"/console/editions/{edition.id}/cancel", token_from="/console/week")
    post_form(editor_client, f"/console/editions/{edition.id}/reopen", token_from="/console/week")
    db.session.refresh(edition)
    assert edition.status == "draft"
    actions = [e.action for e in db.session.scalars(select(ActivityEntry).order_by(ActivityEntry.id))]
    assert actions == ["schedule", "unschedule", "cancel", "reopen"]


def test_failed_deliveries_are_grouped_by_reason_on_the_sending_page(editor_client, built_week, make_subscriber):
    from newsletter import editions
    from newsletter.models import Delivery

    for index in range(3):
        make_subscriber(f"reader{index}@example.org", ["en"])
    edition = built_week["en"]
    editions.send_edition(edition)
    rows = db.session.scalars(select(Delivery).where(Delivery.edition_id == edition.id)).all()
    for row, reply in zip(rows, ["550 5.1.1 no such user", "550 5.1.1 no such user", "552 mailbox full"], strict=True):
        row.status, row.last_reply = "failed", reply
    db.session.commit()
    page = editor_client.get(f"/console/editions/{edition.id}/progress").get_data(as_text=True)
    assert "550 5.1.1 no such user: 2" in page and "552 mailbox full: 1" in page


def test_sections_order_and_names_are_saved_and_a_duplicate_changes_nothing(editor_client):
    from newsletter.content import sections

    data = {
        "rows": "3",
        "name_0": "Economy",
        "ru_0": "Экономика",
        "position_0": "2",
        "name_1": "Security",
        "be_1": "Бяспека",
        "position_1": "1",
        "name_2": "",
    }
    assert post_form(editor_client, "/console/sections", data, token_from="/console/week").status_code == 302
    assert [s.key for s in sections.list_sections()] == ["Security", "Economy"]
    twice = {"rows": "2", "name_0": "Economy", "name_1": "economy ", "position_0": "1", "position_1": "2"}
    response = post_form(editor_client, "/console/sections", twice, token_from="/console/week")
    assert response.status_code == 422 and "Nothing was saved." in response.get_data(as_text=True)
    assert [s.key for s in sections.list_sections()] == ["Security", "Economy"]
    assert editor_client.get("/console/sections").status_code == 200
