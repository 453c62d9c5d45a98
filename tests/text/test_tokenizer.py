"""The question/caption tokeniser: spaCy's English rules plus our safety rules."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqadesk.errors import VqadeskError
from vqadesk.text.tokenizer import (
    MAX_TEXT_CHARS,
    TextInputError,
    Tokenizer,
    blank_english,
    get_tokenizer,
    normalize_text,
    tokenize_caption,
    tokenize_captions,
    tokenize_question,
    tokenize_questions,
)

# Any code point, lone surrogates included (hypothesis leaves them out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=200)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """The shared tokeniser, spaCy loaded once for the module."""
    shared = get_tokenizer()
    shared.tokenize("warm up")
    return shared


def test_importing_does_not_import_spacy():
    code = (
        "import sys, vqadesk.text.tokenizer as t; t.get_tokenizer(); "
        "print('spacy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_shared_instances(tokenizer):
    assert get_tokenizer() is tokenizer
    assert tokenizer.nlp is blank_english()


def test_real_vqa_questions(tokenizer):
    assert tokenize_question("What's the man's shirt color?") == [
        "what", "'s", "the", "man", "'s", "shirt", "color",
    ]
    assert tokenize_question("What is this photo taken looking through?") == [
        "what", "is", "this", "photo", "taken", "looking", "through",
    ]
    assert tokenize_question("Is this a creamy soup?") == ["is", "this", "a", "creamy", "soup"]


def test_english_rules_from_spacy(tokenizer):
    assert tokenizer.tokenize("Don't wear the T-shirt in the U.S. for $3.50!") == [
        "do", "n't", "wear", "the", "t", "-", "shirt", "in", "the", "u.s.",
        "for", "$", "3.50", "!",
    ]


def test_caption_drops_punctuation_but_keeps_symbols():
    assert tokenize_caption("A man, riding a wave -- on top of a surfboard.") == [
        "a", "man", "riding", "a", "wave", "on", "top", "of", "a", "surfboard",
    ]
    assert tokenize_caption('"50%" costs $5 + tax 🙂') == [
        "50", "costs", "$", "5", "+", "tax", "🙂",
    ]


def test_keeping_punctuation_is_the_plain_default(tokenizer):
    assert tokenizer.tokenize("Where is he looking?") == ["where", "is", "he", "looking", "?"]
    assert tokenizer.tokenize("Where is he looking?", drop_punct=True) == [
        "where", "is", "he", "looking",
    ]


@pytest.mark.parametrize(
    "text", ["", " ", "   \t\n\r ", "\u3000\u00a0", "\x00\x01", "\u200b\u200f"]
)
def test_empty_or_blank_text_gives_no_tokens(tokenizer, text):
    assert tokenizer.tokenize(text) == []
    assert tokenize_question(text) == []


def test_any_whitespace_separates_and_is_dropped(tokenizer):
    text = "How  many\tpeople\nare\u00a0there\u3000now\u2028?"
    assert tokenizer.tokenize(text) == ["how", "many", "people", "are", "there", "now", "?"]


def test_control_characters_separate_words(tokenizer):
    assert tokenizer.tokenize("red\x00cube\x7fball\x85box") == ["red", "cube", "ball", "box"]


def test_invisible_format_characters_are_removed(tokenizer):
    # Zero-width space, right-to-left mark, BOM, zero-width joiner.
    assert tokenizer.tokenize("\ufeffre\u200bd \u200fcube\u200d") == ["red", "cube"]


def test_lone_surrogate_becomes_replacement_character(tokenizer):
    assert tokenizer.tokenize("\ud800 cube") == ["\ufffd", "cube"]


def test_nfkc_makes_equivalent_spellings_equal(tokenizer):
    assert tokenizer.tokenize("cafe\u0301") == tokenizer.tokenize("caf\u00e9") == ["caf\u00e9"]
    assert tokenizer.tokenize("ＷＨＡＴ　ｉｓ") == ["what", "is"]


def test_other_scripts_and_emoji(tokenizer):
    assert tokenizer.tokenize("מה זה? مرحبا 猫 👨‍👩‍👧") == [
        "מה", "זה", "?", "مرحبا", "猫", "👨", "👩", "👧",
    ]


def test_long_text_is_truncated():
    short = Tokenizer(nlp=blank_english(), max_chars=12)
    assert short.tokenize("red cube and blue ball") == ["red", "cube", "and"]
    assert len(normalize_text("x" * (MAX_TEXT_CHARS + 50))) == MAX_TEXT_CHARS


def test_very_long_text_is_bounded(tokenizer):
    tokens = tokenizer.tokenize("cube " * 1_000_000)
    assert tokens == ["cube"] * (MAX_TEXT_CHARS // len("cube "))


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"what", ["what"]])
def test_non_text_raises_a_clear_error(bad):
    with pytest.raises(TextInputError, match="^question must be text") as info:
        tokenize_question(bad)
    assert isinstance(info.value, VqadeskError)
    with pytest.raises(TextInputError, match="^caption must be text"):
        tokenize_caption(bad)


def test_batch_names_the_bad_element():
    with pytest.raises(TextInputError, match=r"^questions\[2\] must be text .*got None"):
        tokenize_questions(["a?", "b?", None])


@pytest.mark.parametrize("bad", [None, "one string", b"bytes", 7])
def test_batch_rejects_a_non_list(bad):
    with pytest.raises(TextInputError, match="^captions must be a list of texts"):
        tokenize_captions(bad)


def test_batch_matches_one_by_one(tokenizer):
    texts = ["What color is the cube?", "", "How many balls?", "A red cube.", " \x00 "]
    assert tokenize_questions(texts) == [tokenize_question(text) for text in texts]
    assert tokenize_captions(iter(texts)) == [tokenize_caption(text) for text in texts]
    assert tokenizer.tokenize_many(texts, batch_size=2) == [tokenizer.tokenize(t) for t in texts]
    assert tokenizer.tokenize_many([]) == []


def test_threads_tokenise_concurrently(tokenizer):
    texts = [f"Is cube {i} left of ball {i}?" for i in range(300)]
    expected = [tokenizer.tokenize(text) for text in texts]
    results: list[list[list[str]]] = []

    def work():
        results.append([tokenizer.tokenize(text) for text in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


@settings(max_examples=150, deadline=None)
@given(text=ANY_TEXT)
def test_any_unicode_text_tokenises_cleanly(tokenizer, text):
    tokens = tokenizer.tokenize(text)
    for token in tokens:
        assert token and token == token.lower()
        assert not any(char.isspace() for char in token)
        token.encode("utf-8")  # no lone surrogates reach the vocabulary
    without_punct = tokenizer.tokenize(text, drop_punct=True)
    assert set(without_punct) <= set(tokens)


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(ANY_TEXT, max_size=8))
def test_batch_equals_single_calls_on_any_text(tokenizer, texts):
    assert tokenizer.tokenize_many(texts, drop_punct=True) == [
        tokenizer.tokenize(text, drop_punct=True) for text in texts
    ]
