"""How the Models tab draws a row: its text, and for pretrained models a quieter second line of details.

A row's ``DETAIL_ROLE`` (kind, licence, summary; size on disk) is drawn under its text in a
smaller, dimmer font, elided to the row's width (the full text is in the tooltip and the card),
so a catalogue of six models reads as six entries, not twelve lines of equal weight.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

DETAIL_ROLE = Qt.ItemDataRole.UserRole + 10
_PADDING = 3


class TwoLineDelegate(QStyledItemDelegate):
    """Rows with a detail line get two lines; the others are drawn as usual."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        detail = index.data(DETAIL_ROLE)
        if not detail:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)  # background, selection
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        enabled = bool(opt.state & QStyle.StateFlag.State_Enabled)
        group = QPalette.ColorGroup.Normal if enabled else QPalette.ColorGroup.Disabled
        main_colour = opt.palette.color(group, QPalette.ColorRole.HighlightedText if selected
                                        else QPalette.ColorRole.Text)
        background = opt.palette.color(group, QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base)
        detail_colour = _dimmed(main_colour, background)
        area = opt.rect.adjusted(_PADDING + 2, _PADDING, -_PADDING, -_PADDING)
        main_metrics, small = QFontMetrics(opt.font), _small(opt.font)
        small_metrics = QFontMetrics(small)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(main_colour)
        first = QRect(area.left(), area.top(), area.width(), main_metrics.height())
        painter.drawText(first, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         main_metrics.elidedText(text, Qt.TextElideMode.ElideRight, area.width()))
        painter.setFont(small)
        painter.setPen(detail_colour)
        second = QRect(area.left(), first.bottom() + 1, area.width(), small_metrics.height())
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         small_metrics.elidedText(detail, Qt.TextElideMode.ElideRight, area.width()))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint(option, index)
        if not index.data(DETAIL_ROLE):
            return hint
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        height = QFontMetrics(font).height() + QFontMetrics(_small(font)).height() + 2 * _PADDING + 1
        return QSize(hint.width(), max(hint.height(), height))


def _small(font: QFont) -> QFont:
    small = QFont(font)
    small.setBold(False)
    if small.pointSizeF() > 0:
        small.setPointSizeF(small.pointSizeF() * 0.88)
    else:
        small.setPixelSize(max(8, round(small.pixelSize() * 0.88)))
    return small


def _dimmed(text: QColor, background: QColor, mix: float = 0.38) -> QColor:
    """The text colour part of the way to the background: readable, but quieter than the row's text."""
    return QColor(round(text.red() * (1 - mix) + background.red() * mix),
                  round(text.green() * (1 - mix) + background.green() * mix),
                  round(text.blue() * (1 - mix) + background.blue() * mix))
