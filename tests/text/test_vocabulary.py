"""Vocabularies (build, encode/decode, files) and word vectors from spaCy pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqadesk.errors import DataFormatError, VqadeskError
from vqadesk.text.tokenizer import tokenize_questions
from vqadesk.text.vocabulary import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNK,
    UNK_ID,
    Vocabulary,
)
from vqadesk.text.word_vectors import load_pipeline_vectors

QUESTIONS = [
    ["what", "color", "is", "the", "cube"],
    ["what", "shape", "is", "left", "of", "the", "ball"],
    ["is", "there", "a", "red", "cube"],
]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build(QUESTIONS)


# --- building ---------------------------------------------------------------


def test_specials_come_first():
    assert SPECIAL_TOKENS == ("<pad>", "<unk>", "<start>", "<end>")
    assert (PAD_ID, UNK_ID, START_ID, END_ID) == (0, 1, 2, 3)
    empty = Vocabulary([])
    assert len(empty) == 4 and empty.tokens == SPECIAL_TOKENS and empty.words == ()


def test_build_orders_by_count_then_alphabet(vocab):
    # is x3; the, what, cube x2; the rest once, alphabetical.
    assert vocab.words == (
        "is", "cube", "the", "what", "a", "ball", "color", "left", "of", "red", "shape", "there",
    )
    assert vocab.token_to_id("is") == 4
    assert vocab.counts["is"] == 3 and vocab.counts["red"] == 1
    assert Vocabulary.build(reversed(QUESTIONS)) == vocab


def test_min_count_and_max_size():
    assert Vocabulary.build(QUESTIONS, min_count=2).words == ("is", "cube", "the", "what")
    assert Vocabulary.build(QUESTIONS, max_size=2).words == ("is", "cube")
    assert Vocabulary.build(QUESTIONS, max_size=0).words == ()
    with pytest.raises(ValueError):
        Vocabulary.build(QUESTIONS, min_count=0)


def test_build_ignores_special_tokens_in_data():
    vocab = Vocabulary.build([["<pad>", "red", "<end>", "<unk>"]])
    assert vocab.words == ("red",)


def test_build_rejects_untokenised_text():
    with pytest.raises(TypeError, match="tokenise first"):
        Vocabulary.build(["what color is the cube"])
    with pytest.raises(ValueError, match="non-empty strings, got 7"):
        Vocabulary.build([["red", 7, "cube"], ["red"]])
    with pytest.raises(ValueError, match="non-empty strings, got ''"):
        Vocabulary.build([["red", ""]])


def test_constructor_rejects_duplicates_and_bad_tokens():
    with pytest.raises(ValueError, match="twice"):
        Vocabulary(["red", "red"])
    with pytest.raises(ValueError, match="twice"):
        Vocabulary(["<unk>"])
    with pytest.raises(ValueError, match="non-empty string"):
        Vocabulary(["red", ""])


def test_build_from_real_questions(vqa_v2_sample):
    questions = json.loads((vqa_v2_sample / "questions_train2014_sample.json").read_text())
    token_lists = tokenize_questions(q["question"] for q in questions["questions"])
    vocab = Vocabulary.build(token_lists)
    # "is" and "what" x3 (tie: alphabetical), then "this" x2.
    assert vocab.words[:3] == ("is", "what", "this")
    assert "players" in vocab and "?" not in vocab
    assert vocab.decode(vocab.encode(token_lists[2])) == token_lists[2]


# --- lookups and sequences ----------------------------------------------------


def test_lookups(vocab):
    assert "cube" in vocab and "pyramid" not in vocab and "<pad>" in vocab
    assert vocab.token_to_id("pyramid") == UNK_ID
    assert vocab.id_to_token(vocab.token_to_id("cube")) == "cube"
    assert vocab.id_to_token(np.int64(3)) == "<end>"
    for bad_id in (-1, len(vocab)):
        with pytest.raises(ValueError, match="outside this vocabulary"):
            vocab.id_to_token(bad_id)
    with pytest.raises(TypeError):
        vocab.id_to_token(1.0)


def test_encode_plain_and_unknown(vocab):
    ids = vocab.encode(["what", "size", "is", "the", "cube"])
    assert ids == [vocab.token_to_id("what"), UNK_ID, 4, vocab.token_to_id("the"), 5]


def test_encode_start_end_truncate_pad(vocab):
    words = ["what", "color", "is", "the", "cube"]
    plain = vocab.encode(words)
    assert vocab.encode(words, add_start_end=True) == [START_ID, *plain, END_ID]
    assert vocab.encode(words, max_len=3) == plain[:3]
    assert vocab.encode(words, max_len=4, add_start_end=True) == [START_ID, *plain[:2], END_ID]
    assert vocab.encode(words, max_len=2, add_start_end=True) == [START_ID, END_ID]
    assert vocab.encode(words, max_len=8, pad=True) == [*plain, PAD_ID, PAD_ID, PAD_ID]
    assert vocab.encode(words, max_len=9, add_start_end=True, pad=True) == [
        START_ID, *plain, END_ID, PAD_ID, PAD_ID,
    ]
    assert vocab.encode([], max_len=0) == []


def test_encode_rejects_bad_arguments(vocab):
    with pytest.raises(ValueError, match="at least 2"):
        vocab.encode(["cube"], max_len=1, add_start_end=True)
    with pytest.raises(ValueError, match="at least 0"):
        vocab.encode(["cube"], max_len=-1)
    with pytest.raises(ValueError, match="needs a max_len"):
        vocab.encode(["cube"], pad=True)
    with pytest.raises(TypeError, match="not a string"):
        vocab.encode("cube")


def test_decode(vocab):
    ids = vocab.encode(["a", "red", "pyramid"], max_len=8, add_start_end=True, pad=True)
    assert vocab.decode(ids) == ["a", "red", UNK]
    assert vocab.decode(ids, strip_specials=False) == [
        "<start>", "a", "red", "<unk>", "<end>", "<pad>", "<pad>", "<pad>",
    ]
    # Generated captions may run on after <end>; the words stop there.
    assert vocab.decode([START_ID, vocab.token_to_id("red"), END_ID, 5, 6]) == ["red"]
    assert vocab.decode(np.array([4, 5], dtype=np.int64)) == ["is", "cube"]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
    data=st.data(),
)
def test_encode_decode_round_trip(words, data):
    words = [word for word in words if word not in SPECIAL_TOKENS]
    vocab = Vocabulary(words)
    sentence = data.draw(st.lists(st.sampled_from(words), max_size=20) if words else st.just([]))
    assert vocab.decode(vocab.encode(sentence)) == sentence
    padded = vocab.encode(sentence, add_start_end=True, max_len=25, pad=True)
    assert vocab.decode(padded) == sentence


# --- files --------------------------------------------------------------------


def test_json_round_trip(vocab, tmp_path):
    path = tmp_path / "sub" / "question_vocab.json"
    vocab.to_json(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "vqadesk.vocabulary" and data["version"] == 1
    assert data["tokens"][:5] == ["<pad>", "<unk>", "<start>", "<end>", "is"]
    assert data["counts"][:5] == [0, 0, 0, 0, 3]
    loaded = Vocabulary.from_json(path)
    assert loaded == vocab and loaded.counts == vocab.counts
    assert [p.name for p in path.parent.iterdir()] == ["question_vocab.json"]


def test_unicode_tokens_survive_a_file(tmp_path):
    vocab = Vocabulary(["猫", "🙂", "café", "\ufffd"], counts={"猫": 2})
    vocab.to_json(tmp_path / "v.json")
    assert Vocabulary.from_json(tmp_path / "v.json") == vocab


def _valid() -> dict:
    return Vocabulary.build(QUESTIONS).to_dict()


def _with(**changes) -> dict:
    data = _valid()
    data.update(changes)
    return data


def _without(key: str) -> dict:
    data = _valid()
    del data[key]
    return data


BAD_VOCABULARIES = [
    ([], None, "expected an object"),
    (_without("format"), "format", "missing"),
    (_with(format="vqadesk.answers"), "format", "not a vqadesk vocabulary"),
    (_with(version=2), "version", "unsupported vocabulary version 2"),
    (_with(version="1"), "version", "expected an integer"),
    (_without("tokens"), "tokens", "missing"),
    (_with(tokens="<pad> <unk>"), "tokens", "expected a list"),
    (_with(tokens=["<pad>", "<unk>", "<start>"], counts=[0, 0, 0]), "tokens", "starts with"),
    (_with(tokens=["<unk>", "<pad>", "<start>", "<end>"], counts=[0] * 4), "tokens[0]", "'<pad>'"),
    (_with(tokens=["<pad>", "<unk>", "<end>", "<start>"], counts=[0] * 4), "tokens[2]", "<start>"),
    (_with(tokens=[*SPECIAL_TOKENS, "red", "red"], counts=[0] * 6), "tokens[5]", "duplicate"),
    (_with(tokens=[*SPECIAL_TOKENS, "red", "<pad>"], counts=[0] * 6), "tokens[5]", "duplicate"),
    (_with(tokens=[*SPECIAL_TOKENS, 7], counts=[0] * 5), "tokens[4]", "expected a string"),
    (_with(tokens=[*SPECIAL_TOKENS, ""], counts=[0] * 5), "tokens[4]", "empty token"),
    (_with(tokens=[*SPECIAL_TOKENS, "red"], counts=[0] * 4), "counts", "must match"),
    (_with(tokens=[*SPECIAL_TOKENS, "red"], counts=[0, 0, 0, 0, -2]), "counts[4]", "negative"),
    (_with(tokens=[*SPECIAL_TOKENS, "red"], counts=[0, 0, 0, 0, True]), "counts[4]", "integer"),
    (_with(tokens=[*SPECIAL_TOKENS, "red"], counts=[0, 0, 0, 0, 1.5]), "counts[4]", "integer"),
]


@pytest.mark.parametrize(("data", "field_name", "problem"), BAD_VOCABULARIES)
def test_bad_vocabulary_file_names_file_and_field(tmp_path, data, field_name, problem):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFormatError, match=problem) as info:
        Vocabulary.from_json(path)
    assert info.value.path == str(path)
    assert info.value.field == field_name


def test_embedded_vocabulary_errors_name_the_nesting():
    data = _with(tokens=[*SPECIAL_TOKENS, 7], counts=[0] * 5)
    with pytest.raises(DataFormatError) as info:
        Vocabulary.from_dict(data, source="model.json", where="question_vocabulary")
    assert info.value.field == "question_vocabulary.tokens[4]"
    assert str(info.value).startswith("model.json: field 'question_vocabulary.tokens[4]'")
    assert Vocabulary.from_dict(_valid(), source="model.json") == Vocabulary.build(QUESTIONS)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b'{"format": "vqadesk.vocab', "malformed JSON"),
        (b'{"tokens": "\xff"}', "UTF-8"),
    ],
)
def test_broken_vocabulary_file(tmp_path, content, problem):
    path = tmp_path / "vocab.json"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=problem):
        Vocabulary.from_json(path)
    with pytest.raises(DataFormatError, match="file not found"):
        Vocabulary.from_json(tmp_path / "missing.json")


def test_a_vqa_questions_file_is_not_a_vocabulary(vqa_v2_sample):
    path = vqa_v2_sample / "questions_train2014_sample.json"
    with pytest.raises(DataFormatError, match="missing") as info:
        Vocabulary.from_json(path)
    assert info.value.field == "format"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)
NEAR_VOCABULARIES = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["vqadesk.vocabulary", "other"]) | JSON_VALUES,
        "version": st.sampled_from([1, 2, 0]) | JSON_VALUES,
        "tokens": st.lists(st.sampled_from([*SPECIAL_TOKENS, "red", ""]) | JSON_VALUES, max_size=7),
        "counts": st.lists(st.integers(-1, 3) | JSON_VALUES, max_size=7),
    },
)


@settings(max_examples=150, deadline=None)
@given(data=JSON_VALUES | NEAR_VOCABULARIES)
def test_arbitrary_json_raises_only_project_errors(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz_vocab.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    try:
        vocab = Vocabulary.from_json(path)
    except DataFormatError as exc:
        assert str(path) in str(exc)
    else:
        assert vocab.tokens[:4] == SPECIAL_TOKENS


@settings(max_examples=80, deadline=None)
@given(content=st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_project_errors(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "fuzz_vocab.bin"
    path.write_bytes(content)
    try:
        Vocabulary.from_json(path)
    except VqadeskError:
        pass


# --- word vectors ---------------------------------------------------------------


@pytest.fixture(scope="module")
def nlp_with_vectors():
    """A blank English pipeline with three hand-made 4-d vectors (no download)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.vocab.set_vector("red", np.array([1, 2, 3, 4], dtype=np.float32))
    nlp.vocab.set_vector("cube", np.array([-1, 0, 1, 0], dtype=np.float32))
    nlp.vocab.set_vector("TV", np.array([5, 5, 5, 5], dtype=np.float32))
    return nlp


def test_pipeline_vectors_fill_known_words(nlp_with_vectors):
    vocab = Vocabulary(["red", "tv", "zorblax", "cube"])
    result = load_pipeline_vectors(vocab, "test-pipeline", nlp=nlp_with_vectors)
    matrix = result.matrix
    assert result.reason is None and matrix is not None
    assert matrix.shape == (8, 4) and matrix.dtype == np.float32
    assert (result.words_found, result.words_total, result.coverage) == (3, 4, 0.75)
    np.testing.assert_array_equal(matrix[vocab.token_to_id("red")], [1, 2, 3, 4])
    np.testing.assert_array_equal(matrix[vocab.token_to_id("cube")], [-1, 0, 1, 0])
    np.testing.assert_array_equal(matrix[vocab.token_to_id("tv")], [5, 5, 5, 5])  # via "TV"
    np.testing.assert_array_equal(matrix[PAD_ID], 0)
    # <unk>, <start>, <end> and "zorblax": small, non-zero, distinct random rows.
    random_rows = matrix[[UNK_ID, START_ID, END_ID, vocab.token_to_id("zorblax")]]
    assert np.all(random_rows != 0) and np.abs(random_rows).max() < 2.0
    assert len({row.tobytes() for row in random_rows}) == 4


def test_pipeline_vectors_are_seeded(nlp_with_vectors):
    vocab = Vocabulary(["red", "zorblax"])
    first = load_pipeline_vectors(vocab, nlp=nlp_with_vectors, seed=1).matrix
    again = load_pipeline_vectors(vocab, nlp=nlp_with_vectors, seed=1).matrix
    other = load_pipeline_vectors(vocab, nlp=nlp_with_vectors, seed=2).matrix
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[UNK_ID], other[UNK_ID])


def test_pipeline_vectors_from_a_pipeline_folder(nlp_with_vectors, tmp_path):
    nlp_with_vectors.to_disk(tmp_path / "pipeline")
    result = load_pipeline_vectors(Vocabulary(["cube"]), tmp_path / "pipeline")
    assert result.matrix is not None
    np.testing.assert_array_equal(result.matrix[4], [-1, 0, 1, 0])


def test_pipeline_not_installed_says_how_to_install():
    result = load_pipeline_vectors(Vocabulary(["red"]), "vqadesk_no_such_pipeline")
    assert result.matrix is None and result.words_total == 1
    assert result.reason == (
        "spaCy pipeline 'vqadesk_no_such_pipeline' is not installed; install it with "
        "`python -m spacy download vqadesk_no_such_pipeline` to initialise embeddings "
        "from its vectors"
    )


def test_missing_pipeline_folder(tmp_path):
    result = load_pipeline_vectors(Vocabulary(["red"]), tmp_path / "nothing")
    assert result.matrix is None
    assert result.reason == f"no spaCy pipeline found at {tmp_path / 'nothing'}"


def test_pipeline_without_vectors_or_matching_words(nlp_with_vectors):
    from vqadesk.text.tokenizer import blank_english

    no_vectors = load_pipeline_vectors(Vocabulary(["red"]), "blank", nlp=blank_english())
    assert no_vectors.matrix is None and "has no word vectors" in no_vectors.reason
    no_match = load_pipeline_vectors(Vocabulary(["zorblax"]), "test", nlp=nlp_with_vectors)
    assert no_match.matrix is None and "none of the 1 vocabulary words" in no_match.reason


def test_default_pipeline_when_installed_or_not():
    """Runs against a real en_core_web_md when one is installed; else checks the advice."""
    result = load_pipeline_vectors(Vocabulary(["red", "cube"]))
    if result.matrix is None:
        assert "python -m spacy download en_core_web_md" in result.reason
    else:
        assert result.matrix.shape == (6, 300) and result.words_found == 2


def test_paths_are_strings(tmp_path):
    assert isinstance(load_pipeline_vectors(Vocabulary([]), Path(tmp_path)).pipeline, str)


def test_vocabularies_survive_pickling():
    """DataLoader workers started with spawn pickle the datasets that hold them."""
    import pickle

    from vqadesk.text.answer_vocabulary import AnswerVocabulary
    from vqadesk.text.vocabulary import Vocabulary

    words = Vocabulary.build([["a", "red", "circle"], ["a", "square"]])
    assert pickle.loads(pickle.dumps(words)).to_dict() == words.to_dict()
    answers = AnswerVocabulary.from_dict({
        "format": "vqadesk.answer_vocabulary", "version": 1, "normalization": "vqa-official",
        "question_count": 3, "coverage": 1.0, "coverage_by_answer_type": {"yes/no": 1.0},
        "answers": ["yes", "no"], "counts": [2, 1],
    })
    assert pickle.loads(pickle.dumps(answers)).to_dict() == answers.to_dict()
