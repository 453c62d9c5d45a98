"""The question field alone: Enter asks in one press, with or without the completion popup open."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from vqadesk.gui.explore.question_edit import QuestionEdit

QUESTIONS = ["what color is the circle?", "what color is the square?", "how many squares are there?"]


@pytest.fixture
def edit(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    edit = QuestionEdit(host)
    edit.host = host  # keeps the window alive as long as the test holds the field
    edit.set_completions(QUESTIONS)
    host.show()
    qtbot.waitExposed(host)
    edit.setFocus()
    yield edit


def _submitted(edit: QuestionEdit) -> list[str]:
    asked: list[str] = []
    edit.sig_submitted.connect(asked.append)
    return asked


def _type_until_popup(qtbot, edit: QuestionEdit, text: str) -> None:
    qtbot.keyClicks(edit, text)
    qtbot.waitUntil(edit.completer().popup().isVisible, timeout=5000)


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter])
def test_enter_with_the_popup_open_asks_what_is_typed(qtbot, edit, key):
    asked = _submitted(edit)
    _type_until_popup(qtbot, edit, "what color")
    qtbot.keyClick(edit.completer().popup(), key)
    assert asked == ["what color"]
    assert not edit.completer().popup().isVisible()
    assert edit.history == ["what color"]


def test_enter_on_a_highlighted_completion_asks_that_question(qtbot, edit):
    asked = _submitted(edit)
    _type_until_popup(qtbot, edit, "squares")
    popup = edit.completer().popup()
    qtbot.keyClick(popup, Qt.Key.Key_Down)  # highlights the one match
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert asked == ["how many squares are there?"]
    assert edit.text() == "how many squares are there?"
    assert not popup.isVisible()


def test_enter_without_the_popup_asks_once(qtbot, edit):
    asked = _submitted(edit)
    qtbot.keyClicks(edit, "is it red")  # no completion contains it: no popup
    assert not edit.completer().popup().isVisible()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert asked == ["is it red"]


def test_a_count_spin_box_suffix_agrees_with_its_value(qtbot):
    from PySide6.QtWidgets import QSpinBox

    from vqadesk.gui.count_suffix import agree_suffix

    spin = QSpinBox(minimum=1, maximum=5, value=1)
    qtbot.addWidget(spin)
    agree_suffix(spin, "caption", " per photo")
    assert spin.suffix() == " caption per photo"
    spin.setValue(3)
    assert spin.suffix() == " captions per photo"
    assert spin.text() == "3 captions per photo"
