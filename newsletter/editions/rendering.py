"""Rendering an edition once: Jinja -> MJML -> HTML, a plain-text part, the subject and the preheader.

Personal links are left as the placeholders below; delivery fills them in per recipient. What was
rendered (intro, lead article, sections and titles) is also returned as plain data, for the archive page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from newsletter.content.weeks import format_period
from newsletter.core.mail_templates import render_email
from newsletter.delivery.placeholders import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from newsletter.models import Article

if TYPE_CHECKING:
    from newsletter.editions.plan import DigestPlan, Publication

GMAIL_CLIP_BYTES = 102 * 1024
CLIP_WARNING_BYTES = 90 * 1024
PREHEADER_LENGTH = 150
SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
TREND_LABELS = {
    "worse": _l("The situation got worse"),
    "better": _l("The situation got better"),
    "unchanged": _l("The situation has not changed"),
}


class DigestArticle(TypedDict):
    id: int
    title: str
    summary: str
    url: str
    author: str | None
    trend: str | None
    section: str


class DigestSection(TypedDict):
    name: str
    articles: list[DigestArticle]


class DigestContents(TypedDict):
    """What a digest holds, JSON-ready: stored as `Edition.contents`, the archive page renders from it."""

    subject: str
    preheader: str
    intro: str
    lead: DigestArticle | None
    sections: list[DigestSection]
    compact: NotRequired[dict[str, int]]  # set when the full layout was over Gmail's clip size


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    contents: DigestContents


def archive_url(base_url: str, language: str, week_start: date) -> str:
    return f"{base_url}/archive/{language}/{week_start.isoformat()}"


def catalogue_subject(publication: str, language: str, week_start: date) -> str:
    with force_locale(language):
        return str(
            _(
                "%(publication)s: the week of %(period)s",
                publication=publication,
                period=format_period(week_start, language),
            )
        )


def paragraphs(text: str | None) -> list[list[tuple[str, str]]]:
    """Plain text as paragraphs (split at blank lines) of ("text" | "link", value) runs, for safe rendering."""
    result = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        if not block.strip():
            continue
        runs, position = [], 0
        for match in LINK.finditer(block):
            runs.append(("text", block[position : match.start()]))
            runs.append(("link", match.group()))
            position = match.end()
        runs.append(("text", block[position:]))
        result.append([run for run in runs if run[1]])
    return result


def preheader(plan: DigestPlan) -> str:
    """The editor's preheader, else the intro's opening, else the first article's title and summary."""
    if plan.overrides.preheader:
        return plan.overrides.preheader
    source = plan.overrides.intro or ""
    if not source.strip() and plan.articles:
        source = f"{plan.articles[0].title}: {plan.articles[0].summary}"
    words = " ".join(source.split())
    return words if len(words) <= PREHEADER_LENGTH else words[: PREHEADER_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def _article_data(article: Article) -> DigestArticle:
    return {
        "id": article.id,
        "title": article.title,
        "summary": article.summary,
        "url": article.url,
        "author": article.author,
        "trend": article.trend,
        "section": article.section,
    }


def plan_contents(plan: DigestPlan, subject: str) -> DigestContents:
    """What the digest holds, as JSON-ready data (the archive page renders from it)."""
    return {
        "subject": subject,
        "preheader": preheader(plan),
        "intro": plan.overrides.intro or "",
        "lead": _article_data(plan.lead) if plan.lead else None,
        "sections": [{"name": s.name, "articles": [_article_data(a) for a in s.articles]} for s in plan.sections],
    }


def template_context(
    contents: Mapping[str, Any], language: str, week_start: date, publication: Publication
) -> dict[str, Any]:
    """What the email templates and the archive page share."""
    sections = contents["sections"]
    count = sum(len(section["articles"]) for section in sections) + (1 if contents["lead"] else 0)
    return {
        "language": language,
        "publication": publication.name,
        "organisation_address": publication.address,
        "site_url": publication.base_url,
        "period": format_period(week_start, language),
        # MRML copies <mj-title> into an aria-label and writes other spaces there as a literal "\u{202f}".
        "title": " ".join(f"{publication.name} · {format_period(week_start, language)}".split()),
        "intro": paragraphs(contents["intro"]),
        "intro_text": contents["intro"],
        "lead": contents["lead"],
        "sections": sections,
        "article_count": count,
        "preheader": contents["preheader"],
        "trend_labels": TREND_LABELS,
        "web_view_url": archive_url(publication.base_url, language, week_start),
        "subscribe_url": f"{publication.base_url}/subscribe?lang={language}",
    }


def first_sentence(text: str) -> str:
    """The summary's first sentence (or its first 200 characters), for the compact layout."""
    words = " ".join(text.split())
    match = SENTENCE_END.search(words)
    sentence = words[: match.end()] if match else words
    return sentence if len(sentence) <= 200 else sentence[:199].rsplit(" ", 1)[0] + "…"


def _compacted(contents: DigestContents) -> dict[str, Any]:
    def short(article: Mapping[str, Any]) -> dict[str, Any]:
        return {**article, "summary": first_sentence(article["summary"])}

    sections = [{**s, "articles": [short(a) for a in s["articles"]]} for s in contents["sections"]]
    return {**contents, "sections": sections, "lead": short(contents["lead"]) if contents["lead"] else None}


def _render(contents: Mapping[str, Any], plan: DigestPlan, compact: bool) -> tuple[str, str]:
    with force_locale(plan.language):
        context = template_context(contents, plan.language, plan.week_start, plan.publication)
        return render_email(
            "digest",
            **context,
            compact=compact,
            unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER,
            preferences_url=PREFERENCES_PLACEHOLDER,
        )


def render_digest(plan: DigestPlan) -> RenderedDigest:
    """Render one language's digest for a week (in that language, whatever the request's locale).

    An HTML part Gmail would clip (over 102 KB, hiding the unsubscribe footer) is rendered again in the compact
    layout (title, first sentence, link); `contents["compact"]` records it, with the full layout's size. The text
    part and the archive page keep every summary whole.
    """
    language, publication = plan.language, plan.publication
    subject = plan.overrides.subject or catalogue_subject(publication.name, language, plan.week_start)
    contents = plan_contents(plan, subject)
    html, text = _render(contents, plan, compact=False)
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        html, _text = _render(_compacted(contents), plan, compact=True)
        contents["compact"] = {"full_bytes": size}
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedDigest(subject=subject, html=html, text=text, contents=contents)


def compact_notice(contents: Mapping[str, Any] | None) -> str | None:
    """What the editor is told when the digest was switched to the compact layout."""
    compact = (contents or {}).get("compact")
    if not compact:
        return None
    return (
        f"the full digest would be {compact['full_bytes'] // 1024} KB, over Gmail's {GMAIL_CLIP_BYTES // 1024} KB "
        "clipping size, so it is sent in the compact layout (title, first sentence, link); exclude stories or "
        "shorten summaries to send the full layout"
    )


def clip_warning(html: str) -> str | None:
    """A warning when the HTML part nears the size at which Gmail clips a message (~102 KB)."""
    size = len(html.encode("utf-8"))
    if size < CLIP_WARNING_BYTES:
        return None
    return (
        f"the HTML part is {size // 1024} KB; Gmail clips messages over {GMAIL_CLIP_BYTES // 1024} KB "
        "(exclude articles or shorten summaries)"
    )
