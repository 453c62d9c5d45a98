"""Turn questions and captions into lowercase word tokens.

The splitting itself is spaCy's rule-based English tokeniser
(``spacy.blank("en")``): no statistical model, nothing to download, and it
knows English well ("what's" -> "what" "'s", "don't" -> "do" "n't", "U.S."
and "3.5" stay whole, "t-shirt" -> "t" "-" "shirt"). Around it we add the
rules that make any user text safe and every training/inference call agree:

1. Text longer than ``MAX_TEXT_CHARS`` characters is cut to that length.
2. Control characters (NUL, tabs, newlines, ...) and every kind of Unicode
   whitespace become a plain space; invisible format characters (zero-width
   spaces and joiners, right-to-left marks, BOM) are removed; lone surrogates
   become U+FFFD.
3. NFKC normalisation, so "café" typed with a combining accent and full-width
   "ｗｈａｔ" match the words the vocabulary was built from.
4. spaCy splits; whitespace tokens are dropped; every token is lowercased.
5. Optionally, punctuation tokens (spaCy's ``is_punct``: "?", ".", ",", "!",
   "%", "#", "&", quotes, dashes, ...) are dropped. Symbols such as "$", "+",
   "<" and emoji are not punctuation and stay.

``tokenize_question`` and ``tokenize_caption`` both drop punctuation: a "?"
ends nearly every question and a "." most captions, so keeping them adds a
token that carries no meaning, and the caption metrics (BLEU, CIDEr) compare
punctuation-free words too. They are separate functions so the two policies
can diverge without touching callers.

spaCy is imported on first use, not at import time (it takes about a second
and the GUI must open at once); all callers share one tokeniser through
``get_tokenizer()``.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from vqadesk.errors import VqadeskError

T = TypeVar("T")

if TYPE_CHECKING:
    from spacy.language import Language

# About 300 words: far beyond the longest VQA question (~100 characters) or
# COCO caption (~250), small enough that a pasted book cannot stall the app.
MAX_TEXT_CHARS = 2000


class TextInputError(VqadeskError):
    """A text to tokenise is not a string (None, a number, bytes, ...)."""


def _describe(value: Any) -> str:
    return "None" if value is None else f"a value of type {type(value).__name__}"


def _check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise TextInputError(f"{what} must be text (a string), got {_describe(text)}")
    return text


def _clean_character(char: str) -> str:
    """Rule 2 for one character that ``str.isprintable`` flagged."""
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category == "Cc":
        return " "
    if category == "Cf":
        return ""
    if category == "Cs":
        # spaCy stores strings as UTF-8, which cannot encode a lone surrogate.
        return "\ufffd"
    return char


def normalize_text(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Rules 1-3: truncate, clean control/format characters, NFKC."""
    text = text[:max_chars]
    # Fast path: typed questions are printable; only odd text pays for the loop.
    if not text.isprintable():
        text = "".join(_clean_character(char) for char in text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text


def _made_once(make: Callable[[], T]) -> Callable[[], T]:
    """``make``, called on the first call only (under a lock); every later call returns the same object."""
    lock = threading.Lock()
    made: list[T] = []

    @functools.wraps(make)
    def shared() -> T:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return shared


@_made_once
def blank_english() -> Language:
    """The shared ``spacy.blank("en")`` pipeline, created (and spaCy imported) on first call."""
    import spacy  # deferred: about a second, paid only by code that tokenises

    return spacy.blank("en")


class Tokenizer:
    """Lowercase word tokens from user text; safe on any ``str``.

    ``nlp`` is any spaCy ``Language`` whose ``.tokenizer`` splits the text;
    by default the shared blank English pipeline, created on first use.
    """

    def __init__(self, *, nlp: Language | None = None, max_chars: int = MAX_TEXT_CHARS):
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        self._nlp = nlp
        self.max_chars = max_chars
        # spaCy's tokeniser grows a cache and a string store as it goes; the
        # inference worker and a data-preparation thread may call us at once.
        self._lock = threading.Lock()

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = blank_english()
        return self._nlp

    def tokenize(self, text: str, *, drop_punct: bool = False, what: str = "text") -> list[str]:
        """Tokens of one text; ``[]`` for empty or whitespace-only text.

        ``what`` names the text in the error raised for a non-string
        ("question must be text (a string), got None").
        """
        clean = normalize_text(_check_text(text, what), max_chars=self.max_chars)
        if not clean or clean.isspace():
            return []
        tokenizer = self.nlp.tokenizer
        with self._lock:
            doc = tokenizer(clean)
            return _words(doc, drop_punct)

    def tokenize_many(
        self,
        texts: Iterable[str],
        *,
        drop_punct: bool = False,
        what: str = "texts",
        batch_size: int = 1000,
    ) -> list[list[str]]:
        """Tokens of each text, in order (dataset preparation, batch prediction).

        A non-string element raises ``TextInputError`` naming its index
        ("questions[3] must be text ..."), before any text is tokenised.
        The lock is taken per ``batch_size`` texts, so a long batch does not
        hold up a question asked meanwhile in the GUI.
        """
        if isinstance(texts, (str, bytes)):
            kind = type(texts).__name__
            raise TextInputError(f"{what} must be a list of texts, got a single {kind}")
        try:
            items = list(texts)
        except TypeError:
            problem = f"{what} must be a list of texts, got {_describe(texts)}"
            raise TextInputError(problem) from None
        clean = [
            normalize_text(_check_text(text, f"{what}[{index}]"), max_chars=self.max_chars)
            for index, text in enumerate(items)
        ]
        tokenizer = self.nlp.tokenizer
        tokens: list[list[str]] = []
        for start in range(0, len(clean), batch_size):
            with self._lock:
                batch = tokenizer.pipe(clean[start : start + batch_size], batch_size=batch_size)
                tokens.extend(_words(doc, drop_punct) for doc in batch)
        return tokens


def _words(doc: Any, drop_punct: bool) -> list[str]:
    return [
        token.lower_
        for token in doc
        if not token.is_space and not (drop_punct and token.is_punct)
    ]


@_made_once
def get_tokenizer() -> Tokenizer:
    """The process-wide ``Tokenizer`` (spaCy is loaded on its first ``tokenize``)."""
    return Tokenizer()


def tokenize_question(question: str) -> list[str]:
    """Question tokens, punctuation dropped: "What's this?" -> ["what", "'s", "this"]."""
    return get_tokenizer().tokenize(question, drop_punct=True, what="question")


def tokenize_caption(caption: str) -> list[str]:
    """Caption tokens, punctuation dropped: "A red cube." -> ["a", "red", "cube"]."""
    return get_tokenizer().tokenize(caption, drop_punct=True, what="caption")


def tokenize_questions(questions: Iterable[str]) -> list[list[str]]:
    """``tokenize_question`` for many questions at once (dataset preparation)."""
    return get_tokenizer().tokenize_many(questions, drop_punct=True, what="questions")


def tokenize_captions(captions: Iterable[str]) -> list[list[str]]:
    """``tokenize_caption`` for many captions at once (dataset preparation)."""
    return get_tokenizer().tokenize_many(captions, drop_punct=True, what="captions")
