"""An evaluation's rows as columns, filtered and sorted with numpy (Qt-free, made in a pool thread).

The mistakes browser shows up to hundreds of thousands of rows. A Qt proxy
model would call Python once per row for every filter or sort (40k rows: a
quarter of a second on the GUI thread); here the columns are numpy arrays
taken from the store's rows index once, off the GUI thread (``RowsTable.build``;
no row is parsed: the table model parses only the painted ones), and a filter or a sort is
a few vectorised operations that return the order of the rows to show
(``select``), which the table model (``rows_model.py``) swaps in at once.

Text columns (question type, answer type, answer) are category codes, so a
filter on them is one comparison; the search matches every word of the query
against each row's lower-case question, answer and id, a list comprehension
only over the rows the other filters kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIGHT = 100.0  # a question counts as right when its official accuracy is 100 (all humans agree enough)
ANY = ""  # the "no filter" choice of a category filter


@dataclass(frozen=True)
class Filters:
    """What the browser asks for: categories (``ANY`` for all), a confidence range, words, a sort."""

    question_type: str = ANY
    answer_type: str = ANY
    answer: str = ANY
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    words: str = ""
    only_wrong: bool = True
    ids: frozenset[int] | None = None  # only these row ids (a comparison's list); None: all
    sort: str = "score"  # a column name of ``RowsTable.sort_keys``
    descending: bool = True


def _sorted_codes(codes: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Category codes renumbered so that code order is alphabetical order (a sort by code sorts by name)."""
    order = sorted(range(len(names)), key=lambda code: names[code])
    rank = np.empty(len(names), dtype=np.int32)
    rank[order] = np.arange(len(names), dtype=np.int32)
    return (rank[codes] if len(codes) else codes.astype(np.int32)), [names[code] for code in order]


class RowsTable:
    """Columns of an evaluation's rows (the store's ``EvaluationRows``: its index's columns, no row parsed)."""

    def __init__(self, rows, kind: str):
        self.rows = rows
        self.kind = kind
        count = len(rows)
        self.ids = np.asarray(rows.ids, dtype=np.int64)
        if kind == "vqa":
            self.accuracy = np.asarray(rows.column("accuracy"), dtype=np.float64)
            self.score = np.asarray(rows.column("score"), dtype=np.float64)
            self.question_type, self.question_types = _sorted_codes(*rows.categories("question_type"))
            self.answer_type, self.answer_types = _sorted_codes(*rows.categories("answer_type"))
            self.answer, self.answers = _sorted_codes(*rows.categories("answer"))
            answers = self.answers
            self.text = [f"{question} {answers[code]} {row_id}".lower() for question, code, row_id
                         in zip(rows.strings("question"), self.answer.tolist(), self.ids.tolist())]
        else:
            self.accuracy = np.asarray(rows.column("cider"), dtype=np.float64)
            self.score = np.asarray(rows.column("bleu4"), dtype=np.float64)
            empty = np.zeros(count, dtype=np.int32)
            self.question_type, self.answer_type, self.answer = empty, empty, empty
            self.question_types, self.answer_types, self.answers = [], [], []
            self.text = [f"{caption} {row_id}".lower() for caption, row_id
                         in zip(rows.strings("caption"), self.ids.tolist())]
        self.has_scores = bool(count) and not np.isnan(self.score).all()
        self._position = {row_id: index for index, row_id in enumerate(self.ids.tolist())}

    @classmethod
    def build(cls, rows, kind: str) -> RowsTable:
        """Pool thread: the columns of ``rows``."""
        return cls(rows, kind)

    def __len__(self) -> int:
        return len(self.rows)

    def position(self, row_id: int) -> int | None:
        return self._position.get(int(row_id))

    def wrong_mask(self) -> np.ndarray:
        if self.kind == "vqa":
            return self.accuracy < RIGHT
        return np.ones(len(self), dtype=bool)  # every caption can be browsed, worst CIDEr-D first

    def sort_keys(self) -> dict[str, np.ndarray]:
        keys = {"score": self.score, "accuracy": self.accuracy, "id": self.ids}
        if self.kind == "vqa":
            keys.update(question_type=self.question_type, answer_type=self.answer_type, answer=self.answer)
        return keys

    def select(self, filters: Filters) -> np.ndarray:
        """The row positions ``filters`` keeps, in their sort order."""
        mask = self.wrong_mask() if filters.only_wrong else np.ones(len(self), dtype=bool)
        if filters.ids is not None:
            mask &= np.isin(self.ids, np.fromiter(filters.ids, dtype=np.int64, count=len(filters.ids)))
        for value, codes, names in ((filters.question_type, self.question_type, self.question_types),
                                    (filters.answer_type, self.answer_type, self.answer_types),
                                    (filters.answer, self.answer, self.answers)):
            if value != ANY:
                mask &= codes == (names.index(value) if value in names else -1)
        if self.kind == "vqa" and self.has_scores and (filters.min_confidence > 0 or filters.max_confidence < 1):
            with np.errstate(invalid="ignore"):
                mask &= (self.score >= filters.min_confidence) & (self.score <= filters.max_confidence)
        positions = np.flatnonzero(mask)
        words = filters.words.lower().split()
        if words:
            text = self.text
            positions = np.fromiter((p for p in positions if all(w in text[p] for w in words)), dtype=np.int64)
        key = self.sort_keys().get(filters.sort, self.score)[positions]
        key = np.where(np.isnan(key), -np.inf, key) if key.dtype.kind == "f" else key
        order = np.argsort(-key if filters.descending else key, kind="stable")
        return positions[order]

    def counts_by(self, column: str) -> dict[str, int]:
        """How many rows each category of ``column`` holds ("question_type", "answer_type", "answer")."""
        codes, names = getattr(self, column), getattr(self, column + "s")
        counts = np.bincount(codes, minlength=len(names)) if len(codes) else np.zeros(len(names), dtype=int)
        return {name: int(count) for name, count in zip(names, counts)}

    def mean_by(self, column: str) -> dict[str, float]:
        """The mean accuracy (0-100) of each category of ``column``."""
        codes, names = getattr(self, column), getattr(self, column + "s")
        sums = np.bincount(codes, weights=self.accuracy, minlength=len(names))
        counts = np.bincount(codes, minlength=len(names))
        return {name: float(total / count) for name, total, count in zip(names, sums, counts) if count}
