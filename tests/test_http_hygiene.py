"""HTTP hygiene: ids out of range, unusable JSON text, the language switcher, 405, security headers, caching."""

from __future__ import annotations

import json
import re
import stat

import pytest
from fixtures.settings import current_settings, secret
from sqlalchemy import func, select

from newsletter import create_app
from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.delivery.transport import FileTransport
from newsletter.models import Article, Subscriber

NONCE = re.compile(r"script-src 'self' 'nonce-([^']+)'")


@pytest.fixture(autouse=True)
def no_rate_limits(app_config):
    app_config["RATE_LIMITS"] = "off"


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        if "<int:" in rule.rule:
            yield rule


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_ids_beyond_the_column_range_are_404_on_every_id_route(app, client, editor_headers, huge):
    routes = list(_id_routes(app))
    assert len(routes) >= 10
    for rule in routes:
        path = re.sub(r"<int:\w+>", str(huge), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers=editor_headers, json={})
            assert response.status_code == 404, (method, path, response.status_code)


def test_the_largest_id_is_still_an_ordinary_404(client, editor_headers):
    response = client.get(f"/api/v1/editions/{2**31 - 1}", headers=editor_headers)
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\ufdd0", "x\uffff", "\U0010fffe"])
def test_surrogates_and_noncharacters_in_json_are_422(client, editor_headers, text):
    article = {
        "language": "en",
        "title": f"Title {text}",
        "url": "https://site.example/a",
        "published_at": "2026-11-30T10:00:00+00:00",
        "summary": "s",
        "section": "Economy",
    }
    response = client.post("/api/v1/articles", json=article, headers=editor_headers)
    assert response.status_code == 422 and response.get_json()["error"]["fields"] == {
        "title": response.get_json()["error"]["message"]
    }
    nested = client.post("/api/v1/subscriptions", json={"email": "a@example.org", "languages": ["en", text]})
    assert nested.status_code == 422 and "languages[1]" in nested.get_json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/%5Cevil.example/x", "/%5C%5Cevil.example", "//evil.example/x"])
def test_the_language_switcher_never_links_to_another_host(client, path):
    page = client.get(path).get_data(as_text=True)
    links = re.findall(r'hreflang="\w+"', page) and re.findall(r'<a href="([^"]+)" lang=', page)
    assert len(links) == 3
    assert all(link.startswith("/subscribe?lang=") for link in links), links


def test_the_language_switcher_keeps_the_route(client):
    page = client.get("/archive/en").get_data(as_text=True)
    assert '<a href="/archive/en?lang=be" lang="be"' in page


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/subscribe", "GET, HEAD, OPTIONS, POST"),
        ("DELETE", "/api/v1/subscriptions", "OPTIONS, POST"),
        ("PATCH", "/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_carries_allow(client, method, path, allowed):
    response = client.open(path, method=method)
    assert response.status_code == 405 and response.headers["Allow"] == allowed


def _public_pages(app, client, add_subscriber):
    subscriber = add_subscriber("reader@example.org", ["en"])
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    base = app.config["BASE_URL"]
    client.post("/api/v1/subscriptions", json={"email": "new@example.org", "languages": ["en"]})
    consent = db.session.scalar(select(Subscriber).where(Subscriber.email == "new@example.org")).consents[0]
    confirm = "/confirm/" + tokens.make_token(
        secret(), tokens.CONFIRM, [consent.id, tokens.address_fingerprint(secret(), "new@example.org")]
    )
    return [
        "/subscribe",
        confirm,
        links.unsubscribe.replace(base, ""),
        links.preferences.replace(base, ""),
        "/archive",
        "/archive/en",
        "/archive/en/feed.atom",
        "/healthz",
        "/no-such-page",
        "/confirm/bad-token",
        "/api/v1/openapi.json",
        "/api/v1/editions",
        "/",
        "/subscribe/sent",
        "/unsubscribe-by-address",
        "/unsubscribe-by-address/sent",
        "/favicon.ico",
        "/logo",
    ]


def test_header_survey_of_every_public_page(app, client, add_subscriber):
    for path in _public_pages(app, client, add_subscriber):
        response = client.get(path)
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, path
        assert "'unsafe-inline'" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path


def test_inline_script_and_style_run_only_by_this_responses_nonce(client):
    response = client.post("/subscribe", data={"email": "not an address", "languages": ["en"]})
    response = client.get("/subscribe")
    page = response.get_data(as_text=True)
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in page
    assert re.findall(r"<script(?![^>]*nonce=\"" + re.escape(nonce) + ")", page) == []
    assert NONCE.search(client.get("/subscribe").headers["Content-Security-Policy"]).group(1) != nonce


def test_the_form_may_be_framed_only_by_the_configured_origins(app_config):
    app_config["ALLOWED_ORIGINS"] = "https://site.example"
    app = create_app(app_config)
    client = app.test_client()
    with app.app_context():
        assert (
            "frame-ancestors 'self' https://site.example" in client.get("/subscribe").headers["Content-Security-Policy"]
        )
        assert "frame-ancestors 'none'" in client.get("/archive").headers["Content-Security-Policy"]


@pytest.mark.parametrize("base_url, secure", [("https://news.example", True), ("http://127.0.0.1:5000", False)])
def test_cookies_are_secure_and_samesite_when_the_site_is_https(app_config, base_url, secure):
    app_config["BASE_URL"] = base_url
    app = create_app(app_config)
    with app.app_context():
        cookie = app.test_client().get("/subscribe").headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and ("Secure" in cookie) == secure and "HttpOnly" in cookie


def test_token_pages_are_never_cached(app, client, add_subscriber):
    for path in _public_pages(app, client, add_subscriber)[1:4]:
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/archive").headers.get("Cache-Control", "")


def test_outbox_files_are_readable_by_the_owner_only(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    transport.send("a@example.org", "b@example.org", b"Subject: x\r\n\r\nbody\r\n")
    [written] = list((tmp_path / "outbox").glob("*.eml"))
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_a_surrogate_in_an_article_file_is_reported_not_a_crash(runner, tmp_path):
    article = {
        "language": "en",
        "title": "Bad \ud800 title",
        "url": "https://site.example/a",
        "summary": "s",
        "published_at": "2026-11-30T10:00:00+00:00",
        "section": "Economy",
    }
    path = tmp_path / "articles.json"
    path.write_text(json.dumps({"articles": [article]}))
    result = runner.invoke(args=["articles", "import", str(path)])
    assert result.exit_code != 0 and "U+D800" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0
