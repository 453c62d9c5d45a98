"""Word vocabularies: token <-> id maps for questions and captions.

Ids 0-3 are always the four special tokens, in this order:

    <pad> = 0    fills sequences up to a fixed length (embedding row kept zero)
    <unk> = 1    any word the vocabulary does not know
    <start> = 2  first input of the caption decoder
    <end> = 3    last target of the caption decoder

The words follow from id 4, most frequent first, ties in alphabetical order,
so building twice from the same data gives the same ids.

On disk (and inside checkpoint JSON) a vocabulary is one object::

    {"format": "vqadesk.vocabulary", "version": 1,
     "tokens": ["<pad>", "<unk>", "<start>", "<end>", "what", "is", ...],
     "counts": [0, 0, 0, 0, 5123, 4870, ...]}

``tokens[i]`` is the token with id ``i``; ``counts[i]`` how often it was seen
in the data the vocabulary was built from (0 for the specials).
"""

from __future__ import annotations

import operator
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from vqadesk.errors import DataFormatError
from vqadesk.jsonio import JsonBacked, check_format, expect, field

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, START, END)

FORMAT_NAME = "vqadesk.vocabulary"
FORMAT_VERSION = 1


class Vocabulary(JsonBacked):
    """An immutable token <-> id map with the four specials in front.

    ``words`` are the non-special tokens in id order (ids 4, 5, ...);
    ``counts`` optionally gives how often each was seen (missing -> 0).
    Use ``Vocabulary.build`` to make one from tokenised text.
    """

    def __init__(self, words: Sequence[str], *, counts: Mapping[str, int] | None = None):
        tokens = SPECIAL_TOKENS + tuple(words)
        ids: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if not isinstance(token, str) or not token:
                raise ValueError(f"token {index} must be a non-empty string, got {token!r}")
            if token in ids:
                raise ValueError(f"token {token!r} appears twice (ids {ids[token]} and {index})")
            ids[token] = index
        counts = counts or {}
        self._tokens = tokens
        self._ids = ids
        self._counts = MappingProxyType(
            {token: int(counts.get(token, 0)) for token in tokens[len(SPECIAL_TOKENS) :]}
        )

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        *,
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Vocabulary of the words in ``token_lists`` (one list per text).

        Words seen fewer than ``min_count`` times are left out (they will
        encode as ``<unk>``); ``max_size`` keeps at most that many words, the
        most frequent (the four specials come on top). Special tokens found
        in the data are not counted as words.
        """
        counter: Counter[str] = Counter()
        for index, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise TypeError(
                    f"token_lists[{index}] is a string; pass lists of tokens (tokenise first)"
                )
            counter.update(tokens)
        return cls.from_counts(counter, min_count=min_count, max_size=max_size)

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], *, min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """``build`` from words already counted (``{word: times seen}``), with the same rules."""
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be 0 or more, got {max_size}")
        counter = {token: int(count) for token, count in counts.items() if token not in SPECIAL_TOKENS}
        bad = next((token for token in counter if not isinstance(token, str) or not token), None)
        if bad is not None:
            raise ValueError(f"tokens must be non-empty strings, got {bad!r}")
        kept = [(token, count) for token, count in counter.items() if count >= min_count]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[:max_size]
        return cls([token for token, _ in kept], counts=dict(kept))

    # --- lookups -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._tokens == other._tokens and self._counts == other._counts

    def __hash__(self) -> int:
        return hash(self._tokens)

    def __repr__(self) -> str:
        preview = ", ".join(self.words[:5])
        more = ", ..." if len(self.words) > 5 else ""
        return f"Vocabulary({len(self.words)} words: {preview}{more})"

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token in id order, specials included."""
        return self._tokens

    @property
    def words(self) -> tuple[str, ...]:
        """The non-special tokens in id order (ids 4, 5, ...)."""
        return self._tokens[len(SPECIAL_TOKENS) :]

    @property
    def counts(self) -> Mapping[str, int]:
        """Read-only word -> count seen when built (0 when not known)."""
        return self._counts

    def token_to_id(self, token: str) -> int:
        """Id of ``token``; ``UNK_ID`` for a word not in the vocabulary."""
        return self._ids.get(token, UNK_ID)

    def id_to_token(self, token_id: int) -> str:
        """Token with id ``token_id``; ``ValueError`` when out of range."""
        index = operator.index(token_id)
        if not 0 <= index < len(self._tokens):
            raise ValueError(f"token id {index} is outside this vocabulary (0..{len(self) - 1})")
        return self._tokens[index]

    # --- sequences ---------------------------------------------------------

    def encode(
        self,
        tokens: Iterable[str],
        *,
        max_len: int | None = None,
        add_start_end: bool = False,
        pad: bool = False,
    ) -> list[int]:
        """Ids of ``tokens``, unknown words as ``<unk>``.

        ``add_start_end`` wraps the ids in ``<start>`` ... ``<end>``.
        ``max_len`` truncates to that many ids; with ``add_start_end`` the
        words are cut, never ``<end>``, so it needs at least 2. ``pad`` fills
        with ``<pad>`` up to ``max_len``.
        """
        if isinstance(tokens, str):
            raise TypeError("encode() takes a list of tokens, not a string (tokenise first)")
        ids = [self._ids.get(token, UNK_ID) for token in tokens]
        if max_len is not None:
            room = max_len - 2 if add_start_end else max_len
            if room < 0:
                raise ValueError(f"max_len must be at least {max_len - room}, got {max_len}")
            ids = ids[:room]
        elif pad:
            raise ValueError("pad=True needs a max_len to pad to")
        if add_start_end:
            ids = [START_ID, *ids, END_ID]
        if pad and max_len is not None:
            ids.extend([PAD_ID] * (max_len - len(ids)))
        return ids

    def decode(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """Tokens of ``ids`` (ints, numpy or torch integers).

        With ``strip_specials`` the output stops at the first ``<end>`` and
        leaves out ``<pad>`` and ``<start>``; ``<unk>`` stays, so a reader
        sees that a word was unknown.
        """
        tokens: list[str] = []
        for token_id in ids:
            token = self.id_to_token(token_id)
            if strip_specials:
                if token == END:
                    break
                if token in (PAD, START):
                    continue
            tokens.append(token)
        return tokens

    # --- files (to_json, from_json and pickling come with JsonBacked) ------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON object described in the module docstring."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "tokens": list(self._tokens),
            "counts": [0] * len(SPECIAL_TOKENS) + [self._counts[word] for word in self.words],
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str | os.PathLike[str] = "<vocabulary>", where: str = ""
    ) -> Vocabulary:
        """Vocabulary from ``to_dict()`` output, checked field by field.

        ``source`` is the file named in errors; ``where`` the path of this
        object inside it (e.g. ``"question_vocabulary"`` in a checkpoint).
        """
        prefix = f"{where}." if where else ""
        check_format(data, name=FORMAT_NAME, version=FORMAT_VERSION, source=source, where=where,
                     what="a vqadesk vocabulary", version_label="vocabulary version")
        tokens = field(data, "tokens", list, source, where)
        counts = field(data, "counts", list, source, where)
        if len(counts) != len(tokens):
            raise DataFormatError(
                source,
                f"has {len(counts)} entries but 'tokens' has {len(tokens)}; they must match",
                f"{prefix}counts",
            )
        if len(tokens) < len(SPECIAL_TOKENS):
            raise DataFormatError(
                source,
                f"has {len(tokens)} entries; a vocabulary starts with {', '.join(SPECIAL_TOKENS)}",
                f"{prefix}tokens",
            )
        seen: dict[str, int] = {}
        for index, token in enumerate(tokens):
            token_field = f"{prefix}tokens[{index}]"
            expect(token, str, source, token_field)
            if index < len(SPECIAL_TOKENS) and token != SPECIAL_TOKENS[index]:
                raise DataFormatError(
                    source, f"expected {SPECIAL_TOKENS[index]!r}, got {token!r}", token_field
                )
            if not token:
                raise DataFormatError(source, "empty token", token_field)
            if token in seen:
                raise DataFormatError(
                    source, f"duplicate token {token!r} (also tokens[{seen[token]}])", token_field
                )
            seen[token] = index
        for index, count in enumerate(counts):
            expect(count, int, source, f"{prefix}counts[{index}]")
            if count < 0:
                raise DataFormatError(
                    source, f"counts cannot be negative, got {count}", f"{prefix}counts[{index}]"
                )
        words = tokens[len(SPECIAL_TOKENS) :]
        return cls(words, counts=dict(zip(words, counts[len(SPECIAL_TOKENS) :])))


__all__ = [
    "END",
    "END_ID",
    "PAD",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "START",
    "START_ID",
    "UNK",
    "UNK_ID",
    "Vocabulary",
]
