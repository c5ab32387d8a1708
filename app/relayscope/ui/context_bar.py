"""What fills a prompt's context, drawn: a stacked bar per turn (a delegate for the turns'
Context column, scaled to the session's largest context so growth shows) and its legend."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from relayscope.protocols.prompts import CHARS_PER_TOKEN, PART_TITLES, PARTS
from relayscope.ui import theme
from relayscope.ui.roles import Role

_CONTEXT = int(Role.CONTEXT)
#: Room kept right of the bar for the "12,345 (+1,024)" figures.
_TEXT_SAMPLE = "999,999 (+99,999)"
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus


def part_colour(part: str) -> QColor:
    return QColor(theme.CONTEXT_COLOURS[part])


def bar_segments(parts: dict[str, int], width: int, largest: int) -> list[tuple[str, int, int]]:
    """(part, x, width) of each drawn segment: the whole bar is `width` for the `largest`
    context, so a smaller one is shorter; every non-empty part gets at least one pixel."""
    total = sum(parts.values())
    if total <= 0 or width <= 0:
        return []
    length = round(width * total / max(largest, total))
    segments, x, used = [], 0, 0
    for part in PARTS:
        chars = parts.get(part, 0)
        if chars <= 0:
            continue
        used += chars
        end = max(x + 1, round(length * used / total))
        segments.append((part, x, end - x))
        x = end
    return segments


class ContextBarDelegate(QStyledItemDelegate):
    """Paints a turn's context as a stacked bar, with its size in tokens (≈) at the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.largest = 1  # characters of the session's largest context

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        parts = index.data(_CONTEXT)
        if not parts:
            super().paint(painter, option, index)
            return
        super().paint(painter, option, index)  # background, selection and the figures
        rect: QRect = option.rect
        room = option.fontMetrics.horizontalAdvance(_TEXT_SAMPLE) + 2 * theme.SPACING
        width = rect.width() - room - theme.SPACING
        height = max(6, rect.height() - 2 * 5)
        top = rect.top() + (rect.height() - height) // 2
        left = rect.left() + theme.SPACING // 2
        painter.save()
        for part, x, w in bar_segments(parts, width, self.largest):
            painter.fillRect(left + x, top, w, height, part_colour(part))
        painter.restore()

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.state &= ~_HAS_FOCUS

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 30 * theme.SPACING), hint.height())


class ContextLegend(QWidget):
    """A swatch and a title for each kind of context, in the bar's order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(
            f"Characters of the JSON sent, shown as tokens ≈ characters / {CHARS_PER_TOKEN} "
            "(no tokenizer: read them as proportions)"
        )
        self.setMinimumHeight(self.fontMetrics().height() + theme.SPACING // 2)

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        width = sum(metrics.horizontalAdvance(PART_TITLES[p]) + 3 * theme.SPACING for p in PARTS)
        return QSize(width, metrics.height() + theme.SPACING // 2)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        swatch = metrics.height() - 4
        x, middle = 0, self.height() // 2
        for part in PARTS:
            painter.fillRect(x, middle - swatch // 2, swatch, swatch, part_colour(part))
            x += swatch + theme.SPACING // 2
            title = PART_TITLES[part]
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(
                QRect(x, 0, metrics.horizontalAdvance(title) + 2, self.height()),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                title,
            )
            x += metrics.horizontalAdvance(title) + 2 * theme.SPACING
        painter.end()
