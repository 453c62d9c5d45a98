"""``VqaArrays`` -> the tensors of ``VqaExamples``: question ids, answer classes, soft targets.

Every step is a table lookup or a sort over whole arrays, so VQA v2 train
(443,757 questions, 4.4 M human answers) encodes in about a second. The
rules are those ``vqa_examples`` documents, unchanged:

* a question is its tokens' ids under the question vocabulary, cut to
  ``max_len``; a question without tokens is one ``<unk>`` (packed RNNs refuse
  length 0);
* an answer's class is that of its official normalisation, -1 when it is not
  in the answer vocabulary;
* soft targets count each question's human answers by class (answers that
  normalise alike are one answer) and score every class in the vocabulary
  ``min(count / 3, 1)`` ("min3") or the official accuracy its prediction earns
  ("official"), kept sparse: ``(N, W)`` classes padded with -1, and their scores.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import torch

from vqadesk.data.array_cache import token_counts
from vqadesk.data.vqa_arrays import VqaArrays
from vqadesk.text.answer_vocabulary import AnswerVocabulary
from vqadesk.text.vocabulary import PAD_ID, UNK_ID, Vocabulary

# What AnswerVocabulary.build reads of an annotation.
_Answered = namedtuple("_Answered", "multiple_choice_answer answer_type")


def build_question_vocabulary(arrays: VqaArrays, rows: np.ndarray, min_count: int) -> Vocabulary:
    """``Vocabulary.build`` over the questions ``rows``, counting token ids rather than strings."""
    counts = token_counts(arrays.tokens, arrays.token_ids, arrays.token_offsets, rows)
    return Vocabulary.from_counts(counts, min_count=min_count)


def build_answer_vocabulary(arrays: VqaArrays, rows: np.ndarray, k: int) -> AnswerVocabulary:
    raw, types = arrays.raw_answers, arrays.answer_types
    records = [_Answered(raw[m], types[t])
               for m, t in zip(arrays.multiple_choice[rows].tolist(), arrays.answer_type[rows].tolist())]
    return AnswerVocabulary.build(records, k=k)


def encode_questions(
    arrays: VqaArrays, rows: np.ndarray, vocab: Vocabulary, max_len: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids ``(N, T)`` padded with ``<pad>``, lengths ``(N,)`` and the token counts before truncation."""
    lookup = np.array([vocab.token_to_id(token) for token in arrays.tokens] or [UNK_ID], dtype=np.int64)
    starts, ends = arrays.token_offsets[rows], arrays.token_offsets[rows + 1]
    counts = ends - starts  # (N,) tokens of each question
    # One entry per kept token: its question and its position in the question.
    kept = np.minimum(counts, max_len)
    question = np.repeat(np.arange(len(rows)), kept)
    position = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
    ids = np.full((len(rows), max_len), PAD_ID, dtype=np.int64)  # (N, T)
    ids[question, position] = lookup[arrays.token_ids[np.repeat(starts, kept) + position]]
    empty = counts == 0
    ids[empty, 0] = UNK_ID
    lengths = np.where(empty, 1, kept)
    return torch.from_numpy(ids), torch.from_numpy(lengths.astype(np.int64)), torch.from_numpy(counts.astype(np.int64))


def raw_answer_classes(arrays: VqaArrays, vocab: AnswerVocabulary) -> np.ndarray:
    """The answer class (or -1) of every distinct raw answer of ``arrays``."""
    per_normalized = []
    for text in arrays.normalized_answers:
        index = vocab.index_of(text)
        per_normalized.append(-1 if index is None else index)
    return (np.asarray(per_normalized, dtype=np.int64)[arrays.raw_to_normalized] if per_normalized
            else np.zeros(0, np.int64))


def answer_targets(
    arrays: VqaArrays, rows: np.ndarray, vocab: AnswerVocabulary, soft_score: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``answers (N,)``, sparse soft-target ``classes (N, W)`` (-1 padded) and ``scores (N, W)``."""
    raw_class = raw_answer_classes(arrays, vocab)
    answers = raw_class[arrays.multiple_choice[rows]]
    starts, ends = arrays.answer_offsets[rows], arrays.answer_offsets[rows + 1]
    totals = ends - starts  # (N,) human answers per question
    # One entry per human answer of the rows: its question and its class (or -1).
    question = np.repeat(np.arange(len(rows), dtype=np.int64), totals)
    within = np.arange(int(totals.sum())) - np.repeat(np.cumsum(totals) - totals, totals)
    classes = raw_class[arrays.answer_raw[np.repeat(starts, totals) + within]] if len(question) else question
    known = classes >= 0
    # Count (question, class) pairs: sorted by question, then class.
    width_key = max(len(vocab), 1)
    pairs, counts = np.unique(question[known] * width_key + classes[known], return_counts=True)
    pair_question, pair_class = pairs // width_key, pairs % width_key
    scores = _scores(counts.astype(np.float64), totals[pair_question].astype(np.float64), soft_score)
    per_question = np.bincount(pair_question, minlength=len(rows))
    width = int(per_question.max()) if len(rows) and per_question.max() > 0 else 1
    first = np.cumsum(per_question) - per_question
    column = np.arange(len(pairs)) - first[pair_question]
    target_classes = np.full((len(rows), width), -1, dtype=np.int64)  # (N, W)
    target_scores = np.zeros((len(rows), width), dtype=np.float32)  # (N, W)
    target_classes[pair_question, column] = pair_class
    target_scores[pair_question, column] = scores
    return torch.from_numpy(answers.astype(np.int64)), torch.from_numpy(target_classes), torch.from_numpy(target_scores)


def _scores(count: np.ndarray, total: np.ndarray, soft_score: str) -> np.ndarray:
    """Soft score of an answer ``count`` of ``total`` humans gave."""
    if soft_score == "min3":
        return np.minimum(count / 3, 1.0)
    # The official accuracy: leave each human answer out in turn; the other
    # total - 1 answers hold count - 1 matches (left-out one matched) or count.
    left_out_matching = count * np.minimum((count - 1) / 3, 1.0)
    left_out_other = (total - count) * np.minimum(count / 3, 1.0)
    return (left_out_matching + left_out_other) / total


def first_asked_images(image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``image_ids`` in first-asked order, and each question's row among them."""
    distinct, first, inverse = np.unique(image_ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    return distinct[order], rank[inverse.reshape(-1)]
