"""`newsletter articles`: import a file, fetch the site's feeds, list."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from newsletter.content import articles as service
from newsletter.content import feeds
from newsletter.core.config import LANGUAGES
from newsletter.core.settings import settings_of

articles_group = AppGroup("articles", help="The articles digests are built from.")


@articles_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import articles from a JSON file (all or nothing; an article is identified by its URL)."""
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror}") from error
    try:
        result = service.import_json(raw, current_app.config.get("STORY_URL_PATTERN"))
    except service.ImportInvalid as error:
        raise click.ClickException(f"nothing imported; fix these problems:\n{error}") from error
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged.")


@articles_group.command("fetch")
@click.option("--language", type=click.Choice(LANGUAGES), multiple=True, help="Only these languages' feeds.")
def fetch_command(language: tuple[str, ...]) -> None:
    """Fetch new articles from NEWSLETTER_FEED_BE/RU/EN (bad entries are skipped and reported)."""
    reports = feeds.fetch_configured(
        settings_of(current_app).feeds, list(language) or None, current_app.config.get("STORY_URL_PATTERN")
    )
    if not reports:
        raise click.ClickException(
            "no feed configured (set NEWSLETTER_FEED_BE, NEWSLETTER_FEED_RU, NEWSLETTER_FEED_EN)"
        )
    failed = False
    for report in reports:
        click.echo(report.describe())
        failed = failed or report.error is not None
    if failed:
        raise click.ClickException("some feeds could not be read")


@articles_group.command("list")
@click.option("--language", type=click.Choice(LANGUAGES))
def list_command(language: str | None) -> None:
    """List the latest articles."""
    for article in service.list_articles(language):
        click.echo(f"{article.id}\t{article.language}\t{article.published_at:%Y-%m-%d %H:%M}Z\t{article.title}")
