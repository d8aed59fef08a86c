"""`newsletter stories list|set|link|unlink`: the week's stories and the decisions made once per story."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from newsletter.content import stories as service
from newsletter.content.weeks import BadWeek, parse_week
from newsletter.core.config import LANGUAGES

stories_group = AppGroup("stories", help="Stories: one commentary in every language, decided once.")
TRENDS = ("worse", "better", "unchanged", "none")


def week_option(_ctx, _param, value: str):
    try:
        return parse_week(value)
    except BadWeek as error:
        raise click.BadParameter("must be a date, YYYY-MM-DD, in the years 1900 to 2999") from error


def _story(story_id: int):
    story = service.get_story(story_id)
    if story is None:
        raise click.ClickException(f"no story with id {story_id}")
    return story


def _run(action):
    try:
        return action()
    except service.StoryInvalid as error:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items())) from None
    except (service.StoryConflict, service.ArticlesMissing) as error:
        raise click.ClickException(str(error)) from None


def _line(entry: dict) -> str:
    marks = " ".join(
        filter(None, ["lead" if entry["lead"] else "", "" if entry["included"] else "excluded", entry["trend"] or ""])
    )
    titles = " | ".join(f"{code}: {entry['titles'][code] or '— missing'}" for code in LANGUAGES)
    position = "-" if entry["position"] is None else entry["position"]
    return f"{entry['id']}\t{position}\t{entry['section']}\t{marks or '-'}\t{titles}"


@stories_group.command("list")
@click.option("--week", required=True, callback=week_option, help="Any day of the week, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as GET /api/v1/stories does.")
def list_command(week, as_json: bool) -> None:
    """The week's stories in reading order, with each language's title (or the missing ones)."""
    rows = [service.story_json(story) for story in service.week_stories(week)]
    if as_json:
        click.echo(json.dumps({"week_start": week.isoformat(), "stories": rows}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(_line(row))


@stories_group.command("set")
@click.argument("story_id", type=int)
@click.option("--trend", type=click.Choice(TRENDS), help="The trend mark in every language (none: no mark).")
@click.option("--include/--exclude", default=None, help="In or out of every language's digest.")
@click.option("--lead", is_flag=True, default=None, help="Make it the week's lead story.")
@click.option("--position", type=int, help="Its place within its section (0 first).")
def set_command(story_id: int, trend: str | None, include: bool | None, lead: bool | None, position) -> None:
    """Decide once for every language: trend, included or excluded, lead, position."""
    changes = {
        name: value
        for name, value in {"trend": trend, "included": include, "lead": lead, "position": position}.items()
        if value is not None
    }
    if not changes:
        raise click.UsageError("give at least one of --trend, --include/--exclude, --lead, --position")
    story = _run(lambda: service.update_story(_story(story_id), changes))
    click.echo(_line(service.story_json(story)))


@stories_group.command("link")
@click.argument("article_ids", type=int, nargs=-1, required=True)
def link_command(article_ids: tuple[int, ...]) -> None:
    """Make these articles (translations of each other, one per language) one story."""
    story = _run(lambda: service.link_articles(list(article_ids)))
    click.echo(_line(service.story_json(story)))


@stories_group.command("unlink")
@click.argument("story_id", type=int)
@click.argument("article_id", type=int)
def unlink_command(story_id: int, article_id: int) -> None:
    """Take one article out of its story (it becomes a story of its own)."""
    own = _run(lambda: service.unlink_article(_story(story_id), article_id))
    click.echo(_line(service.story_json(own)))
