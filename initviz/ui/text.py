"""User data as text: lane names, scenario texts and file fields never render as HTML.

Qt labels, message boxes, plot titles and legends interpret rich text (links, images) by
default. Everything a file or a person supplied goes through here: escaped where the widget
takes HTML, elided to a length a title or legend can hold (the full text goes in a tooltip).
"""

from __future__ import annotations

import html

SHOWN_CHARS = 32  # a lane name in a legend or title; the engine caps names at 80 on load


def elide(text: str, limit: int = SHOWN_CHARS) -> str:
    """text cut to ``limit`` characters with an ellipsis; one line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_html(name: str, limit: int = SHOWN_CHARS) -> str:
    """A lane name for a widget that takes rich text: elided, then escaped."""
    return html.escape(elide(name, limit))


def plain_html(text: str) -> str:
    """Plain text (an error message naming a file) for a widget that would read it as rich text:
    escaped, line breaks and spaces kept; the result shows exactly the text, with no links."""
    return "<p style='white-space:pre-wrap'>" + html.escape(str(text)).replace("\n", "<br>") + "</p>"


__all__ = ["SHOWN_CHARS", "elide", "name_html", "plain_html"]
