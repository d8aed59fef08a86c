"""The archive pages load in Chromium with no Content-Security-Policy violation: their styles come from
`static/archive.css`, not inline blocks (issue 22 counted 10 violations)."""

from __future__ import annotations

import pytest
from test_archive_page import _send

COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " " + event.sample);
});
"""


@pytest.mark.browser
def test_archive_pages_load_without_a_csp_violation(client, built_week, live_server, browser):
    for edition in built_week.values():
        _send(edition)
    for path in ("/archive", "/archive/be", "/archive/ru/2022-01-10", "/archive/en/2022-01-10"):
        page = browser.new_page(viewport={"width": 375, "height": 900})
        try:
            page.add_init_script(COLLECT_VIOLATIONS)
            response = page.goto(live_server + path, timeout=15000, wait_until="networkidle")
            assert response.status == 200, path
            page.wait_for_timeout(200)
            assert page.evaluate("window.__violations") == [], path
            styled = page.evaluate(
                "[...document.styleSheets].some(sheet => (sheet.href || '').endsWith('/static/archive.css'))"
            )
            assert styled, path
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        finally:
            page.close()


def test_archive_pages_hold_no_inline_style_block_without_the_nonce(client, built_week):
    for edition in built_week.values():
        _send(edition)
    for path in ("/archive", "/archive/ru/2022-01-10"):
        response = client.get(path)
        text = response.get_data(as_text=True)
        assert text.count("<style") == text.count("<style nonce="), path
        assert "style-src 'self'" in response.headers["Content-Security-Policy"], path
