"""Beam search on hand-built decoders whose best captions are known."""

from __future__ import annotations

import math

import pytest
import torch

from vqadesk.models.beam_search import beam_search

START, END, A, B, X, Y = 0, 1, 2, 3, 4, 5
VOCAB = 6


def markov_decoder(transitions: dict[int, dict[int, float]], *, images: int = 1):
    """A decoder whose next word depends only on the previous one.

    The state carries an image index (row per beam) so a batch can hold images
    with different tables: ``transitions`` may be a list of tables, one per image.
    """
    tables = transitions if isinstance(transitions, list) else [transitions] * images
    log_tables = []
    for table in tables:
        matrix = torch.full((VOCAB, VOCAB), float("-inf"))
        for previous, nexts in table.items():
            for word, prob in nexts.items():
                matrix[previous, word] = math.log(prob)
        log_tables.append(matrix)
    stacked = torch.stack(log_tables)  # (images, V, V)

    def step(tokens, state):
        (image,) = state
        return stacked[image, tokens], state, None

    return step


# From <start>: A 0.6, B 0.4. Greedy takes A, then X (0.4): p(A X) = 0.24.
# The better caption is B (p(B <end>) = 0.36), which only a beam of 2 keeps alive.
CHAIN = {
    START: {A: 0.6, B: 0.4},
    A: {X: 0.4, Y: 0.35, END: 0.25},
    B: {END: 0.9, Y: 0.1},
    X: {END: 1.0},
    Y: {END: 1.0},
}


def search(table=CHAIN, *, images=1, beam_size, length_penalty=0.0, num_results=1, max_len=10):
    beams = beam_size
    state = (torch.arange(images).repeat_interleave(beams),)
    return beam_search(
        markov_decoder(table, images=images), state, batch_size=images, beam_size=beams, max_len=max_len,
        start_id=START, end_id=END, length_penalty=length_penalty, num_results=num_results,
    )


def greedy(table, max_len=10):
    word, words = START, []
    for _ in range(max_len):
        word = max(table[word], key=table[word].get)
        if word == END:
            break
        words.append(word)
    return words


def test_beam_of_one_is_greedy():
    (best,) = search(beam_size=1)[0]
    assert best.token_ids == greedy(CHAIN) == [A, X]
    assert best.log_prob == pytest.approx(math.log(0.6 * 0.4 * 1.0))


def test_a_wider_beam_finds_the_more_probable_caption():
    (best,) = search(beam_size=2)[0]
    assert best.token_ids == [B]
    assert best.log_prob == pytest.approx(math.log(0.36))
    assert best.token_log_probs == pytest.approx([math.log(0.4)])
    assert best.end_log_prob == pytest.approx(math.log(0.9))


def test_results_are_sorted_distinct_and_scored():
    found = search(beam_size=3, num_results=3)[0]
    assert [h.token_ids for h in found] == [[B], [A, X], [A, Y]]
    scores = [h.score for h in found]
    assert scores == sorted(scores, reverse=True)
    for h in found:  # log_prob counts every word and the <end>
        assert h.log_prob == pytest.approx(sum(h.token_log_probs) + h.end_log_prob)


def test_length_normalisation_prefers_the_longer_caption_here():
    raw = search(beam_size=2, length_penalty=0.0, num_results=2)[0]
    normalised = search(beam_size=2, length_penalty=1.0, num_results=2)[0]
    assert raw[0].token_ids == [B]  # log 0.36 = -1.02 beats log 0.24 = -1.43
    assert normalised[0].token_ids == [A, X]  # -1.43 / 3 = -0.48 beats -1.02 / 2 = -0.51
    assert normalised[0].score == pytest.approx(math.log(0.24) / 3)


def test_max_len_forces_the_end():
    loop = {START: {A: 1.0}, A: {A: 0.9, END: 0.1}}
    (best,) = search(loop, beam_size=1, max_len=3)[0]
    assert best.token_ids == [A, A, A]
    assert best.log_prob == pytest.approx(math.log(0.9 * 0.9 * 0.1))  # the forced <end> is counted


def test_a_batch_gives_each_image_its_own_search():
    other = {START: {X: 0.7, Y: 0.3}, X: {END: 1.0}, Y: {END: 1.0}}
    batched = search([CHAIN, other, CHAIN], images=3, beam_size=2, num_results=2)
    assert [[h.token_ids for h in found] for found in batched] == [
        [[B], [A, X]], [[X], [Y]], [[B], [A, X]],
    ]


def test_attention_follows_each_word():
    def step(tokens, state):
        (position,) = state
        log_probs = torch.full((len(tokens), VOCAB), float("-inf"))
        log_probs[:, A] = math.log(0.5)
        log_probs[:, END] = math.log(0.5)
        attention = torch.nn.functional.one_hot(position, 4).float()  # look at cell = step index
        return log_probs, (position + 1,), attention

    found = beam_search(
        step, (torch.zeros(2, dtype=torch.long),), batch_size=1, beam_size=2, max_len=3,
        start_id=START, end_id=END, length_penalty=0.0, num_results=2,
    )[0]
    longer = next(h for h in found if len(h.token_ids) == 1)
    assert longer.attention.tolist() == [[1.0, 0.0, 0.0, 0.0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="cannot exceed beam_size"):
        search(beam_size=2, num_results=3)
    with pytest.raises(ValueError, match="must be >= 1"):
        search(beam_size=0)
