"""BLEU-1..4, CIDEr-D and the caption tokenizer.

Small corpora are worked out by hand; random corpora are checked against
pycocoevalcap's own ``Bleu(4)`` and ``Cider()`` (a test-extra requirement),
both fed the same tokenised strings.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from vqadesk.errors import EvaluationError
from vqadesk.metrics.bleu import corpus_bleu
from vqadesk.metrics.caption_tokenize import PUNCTUATION_TOKENS, tokenize_for_evaluation
from vqadesk.metrics.captions import evaluate_caption_results, evaluate_captions
from vqadesk.metrics.cider import corpus_cider
from vqadesk.metrics.results_io import CaptionResult


def split_corpus(references: dict[int, list[str]], candidates: dict[int, str]):
    return (
        {image: [ref.split() for ref in refs] for image, refs in references.items()},
        {image: caption.split() for image, caption in candidates.items()},
    )


def bleu_of(references, candidates):
    return corpus_bleu(*split_corpus(references, candidates))


def cider_of(references, candidates):
    return corpus_cider(*split_corpus(references, candidates))


# -- BLEU by hand ------------------------------------------------------------------------


def test_bleu_of_a_perfect_candidate_is_one():
    scores = bleu_of({1: ["a b c d"]}, {1: "a b c d"})
    assert scores.corpus == pytest.approx((1.0, 1.0, 1.0, 1.0), abs=1e-9)


def test_bleu_short_candidate_brevity_penalty_and_the_tiny_guard():
    # c = 3, r = 6: penalty exp(1 - 6/3). Precisions 3/3, 2/2, 1/1 and 0/0,
    # which the tool's guards turn into (0 + 1e-15) / (0 + 1e-9) = 1e-6.
    scores = bleu_of({1: ["the cat sat on the mat"]}, {1: "the cat sat"})
    penalty = math.exp(-1)
    assert scores.corpus[:3] == pytest.approx((penalty, penalty, penalty), rel=1e-8)
    assert scores.corpus[3] == pytest.approx(1e-6 ** 0.25 * penalty, rel=1e-6)


def test_bleu_clips_counts_to_the_reference():
    scores = bleu_of({1: ["the cat"]}, {1: "the the the the"})
    assert scores.corpus[0] == pytest.approx(1 / 4)


def test_bleu_clips_to_the_largest_count_in_any_single_reference():
    scores = bleu_of({1: ["the the cat", "the dog"]}, {1: "the the the"})
    assert scores.corpus[0] == pytest.approx(2 / 3)


def test_bleu_closest_reference_length_ties_go_to_the_shorter():
    # c = 4, references of 3 and 5 words: the 3 wins, so no brevity penalty
    # (the 5 would give exp(1 - 5/4)).
    scores = bleu_of({1: ["a b c", "a b c d e"]}, {1: "a b c d"})
    assert scores.corpus[0] == pytest.approx(1.0, abs=1e-9)


def test_bleu_is_computed_on_corpus_totals_not_averaged():
    references = {1: ["a b x y"], 2: ["p q"]}
    candidates = {1: "a b", 2: "c d e f"}
    scores = bleu_of(references, candidates)
    # Totals: 2 of 6 unigrams match; lengths 6 vs 2 + 4 = 6: no penalty.
    assert scores.corpus[0] == pytest.approx(2 / 6)
    # Per image: image 1 is penalised (c = 2 < r = 4), image 2 matches nothing.
    assert scores.per_image[1][0] == pytest.approx(math.exp(1 - 4 / 2))
    assert scores.per_image[2][0] == pytest.approx(0.0, abs=1e-12)
    assert scores.corpus[0] != pytest.approx(sum(s[0] for s in scores.per_image.values()) / 2)


def test_bleu_of_an_empty_candidate_is_zero():
    assert bleu_of({1: ["a b"]}, {1: ""}).corpus == (0.0, 0.0, 0.0, 0.0)


# -- CIDEr-D by hand -----------------------------------------------------------------------


def test_cider_of_one_image_is_zero():
    assert cider_of({1: ["a b c d"]}, {1: "a b c d"}).corpus == 0.0


def test_cider_of_perfect_candidates_with_distinct_ngrams_is_ten():
    scores = cider_of({1: ["a b c d"], 2: ["e f g h"]}, {1: "a b c d", 2: "e f g h"})
    assert scores.corpus == pytest.approx(10.0)


def test_cider_two_word_sentences_only_score_the_orders_they_have():
    # 1- and 2-grams match perfectly (cosine 1), 3- and 4-gram vectors are
    # empty (0): mean over n = 0.5, times 10.
    scores = cider_of({1: ["a b"], 2: ["c d"]}, {1: "a b", 2: "c d"})
    assert scores.per_image == pytest.approx({1: 5.0, 2: 5.0})


def test_cider_cosines_and_the_gaussian_length_penalty():
    # Every n-gram of image 1 is unique to it, so all weights are log(2):
    # cosines are plain set overlaps. Candidate 4 words, reference 6.
    scores = cider_of({1: ["a b c d e f"], 2: ["x y z w"]}, {1: "a b c d", 2: "x y z w"})
    cosines = [4 / math.sqrt(4 * 6), 3 / math.sqrt(3 * 5), 2 / math.sqrt(2 * 4), 1 / math.sqrt(1 * 3)]
    penalty = math.exp(-((3 - 5) ** 2) / (2 * 6.0**2))  # bigram counts 3 and 5
    assert scores.per_image[1] == pytest.approx(10 * penalty * sum(cosines) / 4)
    assert scores.per_image[2] == pytest.approx(10.0)
    assert scores.corpus == pytest.approx((scores.per_image[1] + 10.0) / 2)


def test_cider_clips_candidate_weights_to_the_reference():
    # Unigrams: candidate {b: 2w}, reference {b: w, c: w}. Clipped dot product
    # min(2w, w) * w = w^2, norms 2w and sqrt(2) w: cosine 1 / (2 sqrt 2)
    # (unclipped it would be 1 / sqrt 2). Bigrams "b b" vs "b c": 0.
    scores = cider_of({1: ["b c"], 2: ["x y"]}, {1: "b b", 2: "x y"})
    assert scores.per_image[1] == pytest.approx(10 * (1 / (2 * math.sqrt(2))) / 4)


def test_cider_ngrams_in_every_reference_set_weigh_nothing():
    # "a" is in both images' references: idf log(2) - log(2) = 0.
    scores = cider_of({1: ["a b"], 2: ["a c"]}, {1: "a", 2: "a"})
    assert scores.corpus == 0.0


def test_cider_averages_over_references():
    one_ref = cider_of({1: ["a b c d"], 2: ["e f g h"]}, {1: "a b c d", 2: "e f g h"})
    two_refs = cider_of({1: ["a b c d", "p q r s"], 2: ["e f g h"]}, {1: "a b c d", 2: "e f g h"})
    assert one_ref.per_image[1] == pytest.approx(10.0)
    assert two_refs.per_image[1] == pytest.approx(5.0)  # (10 + 0) / 2


# -- equality with pycocoevalcap -----------------------------------------------------------------


def random_corpus(rng: random.Random, images: int):
    vocabulary = [f"w{i}" for i in range(rng.choice([5, 12, 40]))]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf-like

    def sentence() -> str:
        return " ".join(rng.choices(vocabulary, weights, k=rng.randint(0, 14)))

    references = {}
    candidates = {}
    for _ in range(images):
        image_id = rng.randrange(10**6)
        references[image_id] = [sentence() for _ in range(rng.randint(1, 6))]
        candidates[image_id] = sentence()
    first = next(iter(references))
    references[first][0] = "w0 w1 w0"  # the reference tool needs one non-empty reference
    return references, candidates


@pytest.mark.parametrize("seed", range(40))
def test_bleu_and_cider_equal_pycocoevalcap(seed):
    rng = random.Random(seed)
    references, candidates = random_corpus(rng, images=rng.choice([1, 2, 3, 8, 25]))
    gts = {image: list(refs) for image, refs in references.items()}
    res = {image: [caption] for image, caption in candidates.items()}

    official_bleu, official_bleu_per_image = Bleu(4).compute_score(gts, res, verbose=0)
    official_cider, official_cider_per_image = Cider().compute_score(gts, res)
    ours = evaluate_captions(references, candidates, pretokenized=True)

    assert ours.bleu == pytest.approx(tuple(official_bleu), abs=1e-6, rel=0)
    assert ours.cider == pytest.approx(float(official_cider), abs=1e-6, rel=0)
    for position, image in enumerate(gts):  # the tool lists per-image scores in gts order
        for n in range(4):
            assert ours.per_image_bleu[image][n] == pytest.approx(official_bleu_per_image[n][position], abs=1e-6)
        assert ours.per_image_cider[image] == pytest.approx(float(official_cider_per_image[position]), abs=1e-6)


def test_tokenised_evaluation_equals_pycocoevalcap_fed_our_tokens():
    references = {
        1: ["A dog runs on the grass.", "A brown dog, running!"],
        2: ["Two cats sleep on a couch.", "Cats don't mind the sofa."],
        3: ["A red car (parked) near the U.S. flag."],
    }
    candidates = {1: "A dog running on grass", 2: "two cats on a sofa.", 3: "a red car"}
    gts = {i: [" ".join(tokenize_for_evaluation(c)) for c in refs] for i, refs in references.items()}
    res = {i: [" ".join(tokenize_for_evaluation(c))] for i, c in candidates.items()}
    official_bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    official_cider, _ = Cider().compute_score(gts, res)
    ours = evaluate_captions(references, candidates)
    assert ours.bleu == pytest.approx(tuple(official_bleu), abs=1e-6)
    assert ours.cider == pytest.approx(float(official_cider), abs=1e-6)
    assert set(ours.scores()) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr"}
    assert ours.num_images == 3


# -- evaluate_captions' own rules ---------------------------------------------------------------


def test_only_candidate_images_are_scored():
    references = {1: ["a b"], 2: ["c d"], 3: ["a x"]}
    two = evaluate_captions(references, {1: "a q", 2: "c d"})
    assert two.num_images == 2
    assert set(two.per_image_cider) == {1, 2}
    # Scored alone, "a" is unique to image 1: unigram cosine 1/2, bigrams 0.
    assert two.per_image_cider[1] == pytest.approx(10 * 0.5 / 4)
    # Scoring image 3 too makes "a" common (df 2 of N 3), which changes image 1's score.
    three = evaluate_captions(references, {1: "a q", 2: "c d", 3: "a x"})
    common, rare = math.log(3) - math.log(2), math.log(3)
    assert three.per_image_cider[1] == pytest.approx(10 * common**2 / (common**2 + rare**2) / 4)


def test_caption_evaluation_errors():
    with pytest.raises(EvaluationError, match="empty"):
        evaluate_captions({1: ["a"]}, {})
    with pytest.raises(EvaluationError, match="image_id 9"):
        evaluate_captions({1: ["a"]}, {1: "a", 9: "b"})
    with pytest.raises(EvaluationError, match="empty reference list"):
        evaluate_captions({1: []}, {1: "a"})


# -- the tokenizer -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A Dog runs.", ["a", "dog", "runs"]),
        ("A man, a plan; a canal: Panama!", ["a", "man", "a", "plan", "a", "canal", "panama"]),
        ("Is it red?", ["is", "it", "red"]),
        ("The dog's bone", ["the", "dog", "'s", "bone"]),
        ("They don't know, can't say", ["they", "do", "n't", "know", "ca", "n't", "say"]),
        ("we're here and they've gone, I'm sure",
         ["we", "'re", "here", "and", "they", "'ve", "gone", "i", "'m", "sure"]),
        ("I cannot, gonna try", ["i", "can", "not", "gon", "na", "try"]),
        ("a black-and-white photo", ["a", "black-and-white", "photo"]),
        ("3.5 inches, 1,000 people at 10:30", ["3.5", "inches", "1,000", "people", "at", "10:30"]),
        ("the U.S. flag", ["the", "u.s.", "flag"]),
        ('He said "hello" (twice) -- loudly...', ["he", "said", "hello", "twice", "loudly"]),
        ("the dogs' toys", ["the", "dogs", "toys"]),
        ("50% off & more", ["50", "%", "off", "&", "more"]),
        ("curly \u201cquotes\u201d and it\u2019s fine", ["curly", "quotes", "and", "it", "'s", "fine"]),
        ("line one\nline two", ["line", "one", "line", "two"]),
        ("", []),
        ("...!?", []),
    ],
)
def test_tokenizer_cases(text, tokens):
    assert tokenize_for_evaluation(text) == tokens


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokenizer_never_raises_and_yields_clean_tokens(text):
    for token in tokenize_for_evaluation(text):
        assert token
        assert token.split() == [token]  # no whitespace inside: safe to join with spaces
        assert token not in PUNCTUATION_TOKENS


def test_caption_results_checks_name_the_file_at_fault():
    references = {1: ["a dog"], 2: []}
    files = {"results_path": "r.json", "annotations_path": "c.json"}
    for results, message in [
        ([CaptionResult(1, "a"), CaptionResult(1, "b")], "r.json: 1 image has more than one caption: image_id 1"),
        ([CaptionResult(9, "a")], "r.json: 1 image is not in c.json: image_id 9"),
        ([CaptionResult(2, "a")], "c.json: 1 result image has no reference caption: image_id 2"),
        ([], "r.json: no captions to evaluate: the results are empty"),
    ]:
        with pytest.raises(EvaluationError) as raised:
            evaluate_caption_results(references, results, **files)
        assert str(raised.value) == message
    scored = evaluate_caption_results(references, [CaptionResult(1, "a dog")], **files)
    assert scored.scores() == evaluate_captions({1: ["a dog"]}, {1: "a dog"}).scores()
