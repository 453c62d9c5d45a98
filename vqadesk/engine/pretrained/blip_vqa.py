"""BLIP for VQA (``BlipForQuestionAnswering``, e.g. ``Salesforce/blip-vqa-base``): an answer *generator*.

BLIP answers in three steps: a vision transformer turns the photo (resized whole to a square,
384 px for the released models) into patch embeddings; a text encoder reads the question with
cross-attention to those embeddings; a text decoder writes the answer with cross-attention to the
encoded question. Only the first step depends on the photo alone, and it is most of the cost, so
``encode`` runs it once per photo and the Predictor caches its output: a second question about
the same photo skips the vision transformer. ``answer`` runs the other two steps as
``BlipForQuestionAnswering.generate`` does, with the cached embeddings.

Answers: beam search in the decoder (``top_k + 2`` beams, as many sequences returned), each
sequence's probability the product of its tokens' probabilities (a teacher-forced pass of the
decoder over it: the model's own probability, whatever beam search's length normalisation
ranked by), duplicate texts dropped, best first. The extra beams leave room for duplicates, so
``top_k`` distinct answers come back unless the beams had fewer.

Heatmap: the question encoder's cross-attention over the image patches, averaged over every
layer, head and word of the question ([CLS], [SEP] and padding left out; the image's own [CLS]
embedding dropped), as a square ``(h, w)`` grid. It shows which patches the question read; the
decoder attends only to the encoded question, not to the image, so there is no per-answer map.
It covers the whole photo (``WHOLE_IMAGE``): BLIP's processor squeezes the whole photo into the
square without cropping.

The decoder starts from ``[DEC]`` (``text_config.bos_token_id``) and stops at ``[SEP]`` or after
``MAX_ANSWER_TOKENS`` tokens (VQA answers are a few words). Unlike ``generate``,
a batch of questions passes the questions' attention mask to the decoder, so a padded short
question gets the answers it gets alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from vqadesk.engine.precision import autocast
from vqadesk.engine.pretrained.base import PretrainedAnswers, PretrainedVqa, load_weights
from vqadesk.engine.pretrained.tokenizer_files import check_vocabulary
from vqadesk.engine.pretrained.vqa_maps import square_grid
from vqadesk.engine.torch_free.hub.references import PretrainedSource
from vqadesk.engine.torch_free.predictions import WHOLE_IMAGE, Answer

_QUESTIONS_PER_PASS = 32  # bounds the memory of the cross-attention maps kept for the heatmap
_SPARE_BEAMS = 2  # beams beyond top_k, room for sequences that decode to the same text
MAX_ANSWER_TOKENS = 10  # answers are a few words; LAVIS's BLIP VQA stops at 10 tokens too (predict_answers' max_len)


class BlipVqa(PretrainedVqa):
    attention_region = WHOLE_IMAGE

    def __init__(self, source: PretrainedSource, device: torch.device, precision: str):
        from transformers import BlipForQuestionAnswering, BlipProcessor

        super().__init__(source, device, precision)
        self.model = load_weights(BlipForQuestionAnswering, source, device)
        self.processor = BlipProcessor.from_pretrained(source.folder, local_files_only=True)
        text_config = self.model.config.text_config
        check_vocabulary(self.processor.tokenizer, text_config.vocab_size, source)
        self.start_id = text_config.bos_token_id
        self.end_id = text_config.sep_token_id
        self.pad_id = text_config.pad_token_id
        self.max_question_tokens = text_config.max_position_embeddings
        self.tokenizer = self.processor.tokenizer
        self._skipped_in_map = torch.tensor(
            sorted({self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.pad_id} - {None})
        )

    @property
    def vision_model(self) -> torch.nn.Module:
        """The vision transformer ``encode`` runs (a module tests can hook)."""
        return self.model.vision_model

    def encode(self, images: Sequence[Image.Image]) -> list[torch.Tensor]:
        """Each photo's vision transformer output ``(1 + patches, D)``: its [CLS] embedding, then its patches."""
        pixels = self.processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        with torch.inference_mode(), autocast(self.precision, self.device):
            embeds = self.vision_model(pixel_values=pixels.to(self.device)).last_hidden_state
        # Copies, so one cached photo does not keep the whole batch's tensor alive.
        return [row.clone() for row in embeds] if len(embeds) > 1 else [embeds[0]]

    def answer(self, features: Sequence[torch.Tensor], questions: Sequence[str], top_k: int) -> list[PretrainedAnswers]:
        """The answers, ``_QUESTIONS_PER_PASS`` questions at a time (memory stays bounded for any batch)."""
        results: list[PretrainedAnswers] = []
        for start in range(0, len(questions), _QUESTIONS_PER_PASS):
            end = start + _QUESTIONS_PER_PASS
            results += self._answer_pass(features[start:end], questions[start:end], top_k)
        return results

    def _answer_pass(
        self, features: Sequence[torch.Tensor], questions: Sequence[str], top_k: int
    ) -> list[PretrainedAnswers]:
        text = self.tokenizer(
            list(questions), padding=True, truncation=True, max_length=self.max_question_tokens,
            return_token_type_ids=False, return_tensors="pt",
        ).to(self.device)
        beams = top_k + _SPARE_BEAMS
        with torch.inference_mode(), autocast(self.precision, self.device):
            image_embeds = torch.stack(list(features))
            question = self.model.text_encoder(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device),
                output_attentions=True,
            )
            sequences = self._beam_search(question.last_hidden_state, text["attention_mask"], beams)
            log_probs = self._sequence_log_probs(question.last_hidden_state, text["attention_mask"], sequences)
        maps = self._question_maps(question.cross_attentions, text["input_ids"], text["attention_mask"])
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        scores = log_probs.exp().clamp(0.0, 1.0).tolist()
        results = []
        for row in range(len(questions)):
            candidates = range(row * beams, (row + 1) * beams)
            ranked = sorted(candidates, key=lambda index: scores[index], reverse=True)
            answers: dict[str, Answer] = {}
            for index in ranked:
                text_of = texts[index].strip()
                if text_of not in answers:
                    answers[text_of] = Answer(text=text_of, prob=float(scores[index]))
            results.append(PretrainedAnswers(answers=list(answers.values())[:top_k], attention=maps[row]))
        return results

    def _beam_search(self, question_embeds: torch.Tensor, question_mask: torch.Tensor, beams: int) -> torch.Tensor:
        """``beams`` answers per question, ``(N * beams, S)``: from ``[DEC]``, each question's beams together."""
        start = torch.full((question_embeds.shape[0], 1), self.start_id, dtype=torch.long, device=self.device)
        return self.model.text_decoder.generate(
            input_ids=start, eos_token_id=self.end_id, pad_token_id=self.pad_id,
            encoder_hidden_states=question_embeds, encoder_attention_mask=question_mask,
            num_beams=beams, num_return_sequences=beams, do_sample=False, max_new_tokens=MAX_ANSWER_TOKENS,
        )

    def _sequence_log_probs(
        self, question_embeds: torch.Tensor, question_mask: torch.Tensor, sequences: torch.Tensor
    ) -> torch.Tensor:
        """Each sequence's log-probability under the decoder, ``(N * beams,)``: its tokens after ``[DEC]``
        up to and including the first ``[SEP]`` (a sequence cut at the length limit counts all its tokens)."""
        beams = sequences.shape[0] // question_embeds.shape[0]
        logits = self.model.text_decoder(
            input_ids=sequences,
            encoder_hidden_states=question_embeds.repeat_interleave(beams, dim=0),
            encoder_attention_mask=question_mask.repeat_interleave(beams, dim=0),
            use_cache=False,
        ).logits
        targets = sequences[:, 1:]
        token_log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, targets.unsqueeze(-1))[..., 0]
        ended_before = (targets == self.end_id).long().cumsum(dim=1) - (targets == self.end_id).long()
        counted = ended_before == 0  # every token up to and including the first [SEP]
        return (token_log_probs * counted).sum(dim=1)

    def _question_maps(
        self, cross_attentions: Sequence[torch.Tensor], input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> list[np.ndarray]:
        """Per question, its words' cross-attention over the image patches, mean of layers and heads: ``(h, w)``."""
        attention = torch.stack([layer.float() for layer in cross_attentions]).mean(dim=(0, 2))  # (N, T, 1 + P)
        words = (attention_mask.bool() & ~torch.isin(input_ids, self._skipped_in_map.to(input_ids.device))).float()
        # A question of special tokens only (all cut away): fall back to every token the encoder read.
        words = torch.where(words.sum(dim=1, keepdim=True) > 0, words, attention_mask.float())
        per_patch = (attention[:, :, 1:] * words[:, :, None]).sum(dim=1) / words.sum(dim=1, keepdim=True)
        return [square_grid(row) for row in per_patch.cpu().double().numpy()]
