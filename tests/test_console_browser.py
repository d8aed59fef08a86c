"""The console in headless Chromium: the whole weekly job end to end, without reloading where it matters,
and an accessibility check (axe-core, vendored, injected by the test) on every console page."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from fixtures.console import PASSWORD
from fixtures.delivery import add_subscribers, running_worker, statuses, wait_for
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.editions.editorial import editorial_json
from newsletter.models import Edition

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
WAIT_MS = 20000

pytestmark = pytest.mark.browser


def sign_in(page, base: str, name: str, totp_secret: str | None = None) -> None:
    page.goto(f"{base}/console/", timeout=WAIT_MS)
    page.fill("#login", name)
    page.fill("#password", PASSWORD)
    page.click("button:text-is('Sign in')")
    if totp_secret:
        page.wait_for_url(re.compile(r".*/console/sign-in/code$"), timeout=WAIT_MS)
        page.fill("#code", pyotp.TOTP(totp_secret).now())
        page.click("button:text-is('Continue')")
    page.wait_for_url(re.compile(r".*/console/week$"), timeout=WAIT_MS)


def edition_of(language: str) -> Edition:
    db.session.expire_all()
    return db.session.scalars(select(Edition).where(Edition.language == language)).one()


def test_the_weekly_job_end_to_end(app, live_server, browser, make_account, make_subscriber, samples_path, outbox):
    secret = pyotp.random_base32()
    make_account("Alena", role="admin", totp_secret=secret)
    for index in range(3):
        make_subscriber(f"reader{index}@example.org", ["en"])
    page = browser.new_page()
    sign_in(page, live_server, "Alena", totp_secret=secret)

    page.goto(f"{live_server}/console/articles")
    page.set_input_files("#articles-file", str(samples_path))
    page.click("button:text-is('Upload')")
    page.get_by_text(re.compile(r"Imported: \d+ new")).wait_for(timeout=WAIT_MS)

    page.goto(f"{live_server}/console/week")
    page.fill("#other-week", "2022-01-12")
    page.click("form.filters button:text-is('Build')")
    page.get_by_text("3 editions built for the week of 2022-01-10.").wait_for(timeout=WAIT_MS)

    ru = edition_of("ru")
    page.goto(f"{live_server}/console/editions/{ru.id}")
    page.fill("#intro", "Главное за неделю")
    positions = page.locator("input.position")
    last_id = positions.nth(positions.count() - 1).get_attribute("name").split("_")[1]
    page.fill(f"#position_{last_id}", "0")
    page.click("button:text-is('Save the editorial fields')")
    page.get_by_text("The edition is saved.").wait_for(timeout=WAIT_MS)
    ru = edition_of("ru")
    assert ru.intro == "Главное за неделю" and editorial_json(ru)["article_ids"][0] == int(last_id)

    for language, name in (("be", "Беларуская"), ("ru", "Русский"), ("en", "English")):
        body = page.frame_locator(f"iframe[title='Preview: {name}']").locator("body")
        assert body.inner_text(timeout=WAIT_MS).strip(), language
    assert "Главное за неделю" in page.frame_locator("iframe[title='Preview: Русский']").locator("body").inner_text()

    en = edition_of("en")
    page.goto(f"{live_server}/console/editions/{en.id}")
    page.click("button:text-is('Send a test to me (alena@example.org)')")
    page.get_by_text("The test was sent to 1 address.").wait_for(timeout=WAIT_MS)
    assert len(list(outbox.glob("*.eml"))) == 1

    page.click("a:text-is('Send now…')")
    page.get_by_role("heading", name="Send to 3 subscribers now?").wait_for(timeout=WAIT_MS)
    page.click("button:text-is('Yes, send to 3 subscribers')")
    page.wait_for_url(re.compile(r".*/sending$"), timeout=WAIT_MS)
    page.evaluate("window.notReloaded = true")
    with running_worker(app):
        page.locator("#send-state", has_text="sent").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#count-sent").inner_text() == "3"
    assert len(list(outbox.glob("*.eml"))) == 4
    page.close()


def test_pause_and_resume_a_larger_send_watched_live(app, live_server, browser, make_account, built_week):
    make_account("Alena", role="admin")
    add_subscribers(300, "ru")
    app.config.update(SEND_RATE=40, WORKER_BATCH_SIZE=10)
    page = browser.new_page()
    sign_in(page, live_server, "Alena")
    ru = built_week["ru"]
    page.goto(f"{live_server}/console/editions/{ru.id}/send")
    page.get_by_role("heading", name="Send to 300 subscribers now?").wait_for(timeout=WAIT_MS)
    page.click("button:text-is('Yes, send to 300 subscribers')")
    page.wait_for_url(re.compile(r".*/sending$"), timeout=WAIT_MS)
    with running_worker(app):
        wait_for(lambda: statuses(ru.id)["sent"] >= 10, seconds=30)
        page.click("button:text-is('Pause')")
        page.locator("#send-state", has_text="paused").wait_for(timeout=WAIT_MS)
        paused_at = statuses(ru.id)
        assert paused_at["queued"] > 0, paused_at
        page.click("button:text-is('Resume')")
        page.evaluate("window.notReloaded = true")
        page.locator("#send-state", has_text="sent").wait_for(timeout=60000)
        assert page.evaluate("window.notReloaded") is True
    assert statuses(ru.id)["sent"] == 300
    page.close()


def test_an_editor_is_refused_an_admin_page(live_server, browser, make_account):
    make_account("Pavel", role="editor")
    page = browser.new_page()
    sign_in(page, live_server, "Pavel")
    response = page.goto(f"{live_server}/console/editors")
    assert response.status == 403
    page.get_by_text("This page is for administrators only.").wait_for(timeout=WAIT_MS)
    assert page.locator("a:text-is('Editors')").count() == 0
    page.close()


def _serious_violations(page) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["passes"], "axe-core did not run"
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_or_critical_accessibility_violations_on_any_console_page(
    app, live_server, browser, make_account, built_week, make_subscriber
):
    make_account("Alena", role="admin", totp_secret=None)
    make_subscriber("anna@example.org", ["en"])
    page = browser.new_page()
    found = {"sign-in": _serious_violations(page) if page.goto(f"{live_server}/console/") else []}
    sign_in(page, live_server, "Alena")
    edition = built_week["en"]
    article_id = db.session.scalars(select(Edition.id)).first()
    paths = [
        "/console/week",
        "/console/articles",
        "/console/articles/new",
        f"/console/articles/{article_id}",
        "/console/subscribers",
        "/console/activity",
        "/console/account",
        "/console/editors",
        "/console/suppressions",
        f"/console/editions/{edition.id}",
        f"/console/editions/{edition.id}/send",
        f"/console/editions/{edition.id}/sending",
        "/console/editions/999999",
    ]
    for path in paths:
        page.goto(live_server + path, timeout=WAIT_MS)
        found[path] = _serious_violations(page)
    page.goto(f"{live_server}/console/subscribers")
    page.fill("#lookup-email", "anna@example.org")
    page.click("button:text-is('Look up')")
    found["lookup"] = _serious_violations(page)
    page.goto(f"{live_server}/console/articles/new")
    page.click("button:text-is('Save')")
    found["article errors"] = _serious_violations(page)
    assert {where: problems for where, problems in found.items() if problems} == {}
    page.close()


def test_without_javascript_an_editor_signs_in_builds_and_sends(
    app, live_server, browser, make_account, make_subscriber, samples_path
):
    """Every action is a plain form POST: the same job with script switched off."""
    from newsletter.content.articles import import_json

    make_account("Alena", role="admin")
    make_subscriber("reader@example.org", ["en"])
    import_json(samples_path.read_bytes())
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, "Alena")
    page.fill("#other-week", "2022-01-12")
    page.click("form.filters button:text-is('Build')")
    page.get_by_text("3 editions built for the week of 2022-01-10.").wait_for(timeout=WAIT_MS)
    en = edition_of("en")
    page.goto(f"{live_server}/console/editions/{en.id}/send")
    page.click("button:text-is('Yes, send to 1 subscriber')")
    page.wait_for_url(re.compile(r".*/sending$"), timeout=WAIT_MS)
    assert edition_of("en").status == "sending"
    page.click("button:text-is('Pause')")
    page.locator("#send-state", has_text="paused").wait_for(timeout=WAIT_MS)
    context.close()
