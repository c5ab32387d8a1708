"""Recorded text shown by Qt exactly as written: tooltips and labels never render it as HTML."""

from __future__ import annotations

import html

from PySide6.QtGui import Qt
from PySide6.QtWidgets import QLabel

__all__ = ["plain_label", "plain_tooltip"]


def plain_label(label: QLabel) -> QLabel:
    """`label`, set to show its text as plain text: for labels that show recorded text (a
    QLabel guesses, like a tooltip, and would render a model name such as `<img src=x>`)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tooltip(text: str | None) -> str:
    """`text` as a tooltip that Qt shows literally.

    Qt renders a tooltip as rich text when it "looks like" HTML (`Qt.mightBeRichText`): a
    model's answer holding `<img src=…>` or `<table>` would render there, and an image can
    make Qt fetch a file. Such text is escaped and wrapped in a paragraph that keeps its
    line breaks and spaces; text that does not look like HTML is shown as it is already.
    """
    if not text:
        return ""
    if not Qt.mightBeRichText(text):
        return text
    lines = text.replace("\r\n", "\n")  # pre-wrap would make a CRLF two line breaks
    return "<p style='white-space:pre-wrap'>" + html.escape(lines, quote=False) + "</p>"
