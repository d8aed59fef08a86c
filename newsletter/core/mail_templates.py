"""Email rendering shared by every message: Jinja renders MJML, MRML turns it into HTML.

No remote fonts or assets: MRML's default web fonts are switched off.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from mjml import mjml2html


class RenderError(Exception):
    """The MJML source did not compile (a template bug, never user input)."""


def mjml_to_html(source: str) -> str:
    try:
        return mjml2html(source, disable_comments=True, fonts={})
    except Exception as error:  # MRML raises a bare exception type from Rust
        raise RenderError(str(error)) from error


def render_email(template_stem: str, **context: Any) -> tuple[str, str]:
    """Render `templates/email/<stem>.mjml` and `<stem>.txt` into (html, text) in the current locale."""
    html = mjml_to_html(render_template(f"email/{template_stem}.mjml", **context))
    text = render_template(f"email/{template_stem}.txt", **context)
    return html, text
