"""JsonHighlighter: colours JSON keys, strings, numbers and literals, following the palette."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QPalette, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from relayscope.ui.inspector._style import is_dark

# A string (maybe followed by ":", which makes it a key), a number, or a literal.
_TOKEN = re.compile(
    r'("(?:[^"\\]|\\.)*"?)(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b'
)
# (key, string, number, literal) in light and in dark palettes (GitHub's code colours).
_LIGHT = ("#0550ae", "#0a3069", "#953800", "#8250df")
_DARK = ("#79c0ff", "#a5d6ff", "#ffa657", "#d2a8ff")


class JsonHighlighter(QSyntaxHighlighter):
    """Highlights one line at a time, so it also reads JSON cut off mid-way."""

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        super().__init__(document)
        self._formats: tuple[QTextCharFormat, ...] = ()
        self.set_palette(palette)

    def set_palette(self, palette: QPalette) -> None:
        formats = []
        for name in _DARK if is_dark(palette) else _LIGHT:
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(name))
            formats.append(fmt)
        self._formats = tuple(formats)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        key, string, number, literal = self._formats
        for match in _TOKEN.finditer(text):
            if match.group(1):
                start, end = match.span(1)
                self.setFormat(start, end - start, key if match.group(2) else string)
            elif match.group(3):
                start, end = match.span(3)
                self.setFormat(start, end - start, number)
            else:
                start, end = match.span(4)
                self.setFormat(start, end - start, literal)
