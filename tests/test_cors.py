"""CORS for the publication's own sign-up box: preflights for the allowed origins, the README snippet in Chromium."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter import create_app
from newsletter.core.config import ConfigError
from newsletter.core.extensions import db
from newsletter.models import Subscriber

README = Path(__file__).resolve().parent.parent / "README.md"
SITE = "https://site.example"


def readme_snippet() -> str:
    text = README.read_text()
    block = text.split("<!-- signup-snippet:start -->")[1].split("<!-- signup-snippet:end -->")[0]
    return re.search(r"```html\n(.*?)```", block, re.S).group(1)


def _preflight(client, origin: str):
    return client.options(
        "/api/v1/subscriptions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, accept-language",
        },
    )


@pytest.fixture
def allowed_site(app_config):
    app_config["ALLOWED_ORIGINS"] = f"{SITE}, http://127.0.0.1:8081"
    app_config["RATE_LIMITS"] = "off"


def test_a_preflight_from_an_allowed_origin_is_answered(allowed_site, client):
    response = _preflight(client, SITE)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert {"content-type", "accept-language"} <= {
        header.strip().lower() for header in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert "Origin" in response.headers["Vary"]


def test_the_answer_itself_is_readable_by_the_allowed_origin(allowed_site, client):
    response = client.post(
        "/api/v1/subscriptions", json={"email": "a@example.org", "languages": ["en"]}, headers={"Origin": SITE}
    )
    assert response.status_code == 202 and response.headers["Access-Control-Allow-Origin"] == SITE


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://site.example.evil.example"])
def test_other_origins_get_no_cors_headers(allowed_site, client, origin):
    assert "Access-Control-Allow-Origin" not in _preflight(client, origin).headers
    other = client.post(
        "/api/v1/subscriptions", json={"email": "a@example.org", "languages": ["en"]}, headers={"Origin": origin}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_origin_is_allowed_by_default(client):
    assert "Access-Control-Allow-Origin" not in _preflight(client, SITE).headers


@pytest.mark.parametrize("raw", ["site.example", "https://site.example/path", "ftp://site.example", "*"])
def test_a_bad_origin_setting_stops_start_up(app_config, raw):
    app_config["ALLOWED_ORIGINS"] = raw
    with pytest.raises(ConfigError, match="NEWSLETTER_ALLOWED_ORIGINS"):
        create_app(app_config)


# --- the README snippet on a page of another loopback port, in Chromium ---------------------------


@pytest.fixture
def site_server():
    """The publication's site: one page with the README snippet, on its own loopback port."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (http.server's name)
            body = pages.get("page", "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", pages
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def site_allowed(app_config, site_server):
    app_config["ALLOWED_ORIGINS"] = site_server[0]


def _site_page(api_base: str) -> str:
    snippet = readme_snippet().replace("https://newsletter.example", api_base)
    return f'<!doctype html><html lang="ru"><head><meta charset="utf-8"></head><body>{snippet}</body></html>'


def _sign_up(browser, site_url: str, address: str):  # noqa: F811
    page = browser.new_page()
    page.goto(site_url, timeout=15000)
    page.fill("input[name=email]", address)
    page.check("input[value=ru]")
    page.click("button[type=submit]")
    return page


@pytest.mark.browser
def test_the_readme_snippet_subscribes_from_another_origin(site_allowed, site_server, live_server, browser):  # noqa: F811
    site_url, pages = site_server
    pages["page"] = _site_page(live_server)
    page = _sign_up(browser, site_url, "reader@example.org")
    page.get_by_text("Спасибо").wait_for(timeout=15000)
    page.close()
    db.session.expire_all()
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.email == "reader@example.org" and subscriber.pending_languages == ["en", "ru"]
    assert subscriber.consents[0].source_page == site_url + "/"


@pytest.mark.browser
def test_an_origin_not_allowed_cannot_subscribe_from_the_browser(site_server, live_server, browser):  # noqa: F811
    site_url, pages = site_server
    pages["page"] = _site_page(live_server)
    page = _sign_up(browser, site_url, "reader@example.org")
    page.get_by_text("Please try again later.").wait_for(timeout=15000)
    page.close()
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)) is None
