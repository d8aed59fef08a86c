"""The app factory, configuration and health check."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.core.extensions import db
from newsletter.models import Subscriber


def test_healthz_answers_when_database_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_secret_key_is_generated_once_and_kept(tmp_path, database_url):
    from newsletter import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    first = create_app(config).config["SECRET_KEY"]
    second = create_app(config).config["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_typed_settings_from_the_environment_are_read_as_their_type(tmp_path, database_url, monkeypatch):
    from newsletter import create_app

    monkeypatch.setenv("NEWSLETTER_SMTP_UTF8", "no")
    monkeypatch.setenv("NEWSLETTER_SEND_RATE", "2.5")
    monkeypatch.setenv("NEWSLETTER_CONFIRM_RESEND_SECONDS", "60")
    config = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}).config
    assert (config["SMTP_UTF8"], config["SEND_RATE"], config["CONFIRM_RESEND_SECONDS"]) == (False, 2.5, 60)


@pytest.mark.parametrize(
    "name, value",
    [("CONFIRM_RESEND_SECONDS", "5m"), ("SMTP_UTF8", "maybe"), ("LEASE_SECONDS", "-1"), ("WORKER_BATCH_SIZE", "nan")],
)
def test_a_setting_of_the_wrong_type_stops_start_up_with_its_name(tmp_path, database_url, monkeypatch, name, value):
    from newsletter import create_app
    from newsletter.core.config import ConfigError

    monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    with pytest.raises(ConfigError, match=f"NEWSLETTER_{name}"):
        create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)})


def test_unknown_page_is_a_friendly_404_in_the_visitors_language(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "ru"})
    assert response.status_code == 404
    assert b'lang="ru"' in response.data


@pytest.fixture
def proxied_app_config(app_config):
    app_config["PROXY_HOPS"] = 1
    return app_config


def _request_ip_of(address: str) -> str | None:
    db.session.expire_all()
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    return subscriber.consents[0].request_ip


def test_behind_a_proxy_the_forwarded_client_address_is_recorded(proxied_app_config, client):
    body = {"email": "reader@example.org", "languages": ["en"]}
    headers = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}
    assert client.post("/api/v1/subscriptions", json=body, headers=headers).status_code == 202
    assert _request_ip_of("reader@example.org") == "203.0.113.7"


def test_without_proxy_hops_forwarded_headers_are_ignored(client):
    body = {"email": "reader@example.org", "languages": ["en"]}
    headers = {"X-Forwarded-For": "203.0.113.7"}
    assert client.post("/api/v1/subscriptions", json=body, headers=headers).status_code == 202
    assert _request_ip_of("reader@example.org") == "127.0.0.1"


def test_a_forged_forwarded_address_is_not_stored(proxied_app_config, client):
    body = {"email": "reader@example.org", "languages": ["en"]}
    headers = {"X-Forwarded-For": "x" * 100}
    assert client.post("/api/v1/subscriptions", json=body, headers=headers).status_code == 202
    assert _request_ip_of("reader@example.org") is None


def test_database_errors_never_show_bound_parameters(app):
    address = "private.reader@example.org"
    db.session.add(Subscriber(email=address, status="pending", locale="en"))
    db.session.commit()
    db.session.add(Subscriber(email=address, status="pending", locale="en"))
    with pytest.raises(IntegrityError) as raised:
        db.session.commit()
    db.session.rollback()
    assert "private.reader" not in str(raised.value) and "private.reader" not in str(raised.value.orig)
    assert "hidden due to hide_parameters" in str(raised.value)


def test_access_log_never_shows_a_personal_link_token(caplog):
    import logging

    from newsletter.web.access_log import redact_tokens_in_access_log

    redact_tokens_in_access_log("test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        logging.getLogger("test.access").info(
            '%s - - "%s" %s', "127.0.0.1", "POST /unsubscribe/WzEsImFiYyJd.abc.def?lang=ru HTTP/1.1", "200"
        )
    assert "WzEsImFiYyJd" not in caplog.text
    assert "/unsubscribe/[token]?lang=ru" in caplog.text


def test_the_command_line_reports_a_bad_setting_without_a_traceback(tmp_path, database_url):
    from click.testing import CliRunner

    from newsletter import main

    env = {
        "NEWSLETTER_SMTP_UTF8": "maybe",
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_INSTANCE_PATH": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    assert result.exit_code == 1
    assert "NEWSLETTER_SMTP_UTF8 must be true or false" in result.output and "Traceback" not in result.output
