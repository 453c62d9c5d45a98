"""A spin box whose suffix agrees with its value: "1 caption", "3 captions", never a hedge in brackets."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox

from vqadesk.text.counts import noun_for


def agree_suffix(spin: QSpinBox, noun: str, after: str = "") -> None:
    """Keep ``spin``'s suffix `` noun`` or `` nouns`` (then ``after``) as its value changes."""

    def update(value: int) -> None:
        spin.setSuffix(f" {noun_for(value, noun)}{after}")

    update(spin.value())
    spin.valueChanged.connect(update)
