"""Render icons/relayscope.svg to the PNG sizes the app and packagers use.

Run from the repository root: `QT_QPA_PLATFORM=offscreen python icons/render.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(svg: Path = HERE / "relayscope.svg", out: Path = HERE) -> list[Path]:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out / f"relayscope-{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"{path}: cannot write")
        written.append(path)
    return written


if __name__ == "__main__":
    app = QGuiApplication(sys.argv)
    for path in render():
        print(path.relative_to(HERE.parent))
