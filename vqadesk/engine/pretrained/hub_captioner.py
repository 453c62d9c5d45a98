"""What the three pretrained captioners share: load, encode once, beam search, then one scoring pass.

A caption is made in two passes over the text decoder:

1. transformers' ``generate`` from the cached image features: beam search with
   ``num_beams = max(beam_size, num_captions)`` (greedy when both are 1), every beam returned, so
   that captions which decode to the same text (two token spellings of one word) can be dropped
   and the next beam take their place; at most ``num_captions`` distinct captions are kept, in
   ``generate``'s order.
2. one teacher-forced forward pass over the kept sequences, with attention maps: each token's
   probability (the model's own softmax, not the beam search's processed scores) and where the
   decoder looked when it wrote the token (each subclass says which attention that is). A
   caption's ``log_prob`` is the sum of its tokens' log-probabilities, the end token included;
   its ``score`` their mean (length-normalised, as vqadesk's own beam search ranks: closer to 0 is
   more confident). The kept captions are returned best score first.

Generation keeps the model's own generation settings (length penalty, repetition rules) but not
its search: no sampling, vqadesk's beam width. Captions are at most ``max_new_tokens`` tokens: the
model's ``generation_config.max_new_tokens``, else its ``max_length`` less the one start token,
else 20 (transformers' own default, so captions match its pipeline), and never more than
``MAX_NEW_TOKENS`` (a config asking for hundreds would make every caption a long beam search).

All three start the decoder from one token (BLIP's ``[DEC]``, GIT's ``[CLS]``, the decoder start
token of a vision-encoder-decoder), so the returned sequences are that token followed by the caption.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vqadesk.engine import precision as precisions
from vqadesk.engine.pretrained.base import PretrainedCaptioner, load_weights
from vqadesk.engine.pretrained.caption_maps import attention_region, patch_grid, patch_maps
from vqadesk.engine.pretrained.caption_words import group_words, word_records
from vqadesk.engine.pretrained.tokenizer_files import check_tokenizer_files
from vqadesk.engine.torch_free.hub.references import PretrainedModelError, PretrainedSource
from vqadesk.engine.torch_free.predictions import Caption

DEFAULT_NEW_TOKENS = 20
MAX_NEW_TOKENS = 30
PROMPT_LENGTH = 1


@dataclass(frozen=True)
class _Chosen:
    """One caption kept after the beam search: its photo (row of the batch), the decoder's start token
    and the caption's token ids after it (the end token included when it was written)."""

    photo: int
    start: int
    tokens: list[int]


class TransformersCaptioner(PretrainedCaptioner):
    """A transformers captioner: subclasses name the model class and say how to encode, generate and score."""

    model_class: type

    def __init__(self, source: PretrainedSource, device: torch.device, precision: str):
        super().__init__(source, device, precision)
        self.model = load_weights(self.model_class, source, device)
        self.image_processor, self.tokenizer = _load_processors(source)
        self.attention_region = attention_region(self.image_processor)
        self.max_new_tokens = max_new_tokens(self.model.generation_config)

    # -- what each architecture says ---------------------------------------------------------------

    @property
    @abstractmethod
    def vision_encoder(self) -> torch.nn.Module:
        """The module ``encode`` runs and captioning never does (tests count its calls)."""

    @property
    @abstractmethod
    def vision_config(self):
        """The vision encoder's config: its image and patch sizes give the patch grid."""

    @abstractmethod
    def _encode_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` processed pixels -> ``(B, K, D)`` image tokens the decoder reads."""

    @abstractmethod
    def _generate(self, features: torch.Tensor, config) -> torch.Tensor:
        """Token ids ``(B * num_return_sequences, L)``: the start token, then each caption, padded."""

    @abstractmethod
    def _score(
        self, features: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass over ``input_ids`` ``(N, T)`` (padded on the right, ``attention_mask`` 0 there):
        logits ``(N, T, V)`` at each position and, from each, the attention ``(N, T, K)`` over the ``K``
        image tokens when the next token was written."""

    def _generation_settings(self):
        """The model's generation config; the BLIP decoder's start and end tokens differ (its subclass says)."""
        return copy.deepcopy(self.model.generation_config)

    # -- PretrainedCaptioner -------------------------------------------------------------------

    def encode(self, images: Sequence[Image.Image]) -> list[torch.Tensor]:
        """The image tokens of each photo ``(K, D)`` float32, the vision encoder run once for all of them."""
        if not images:
            return []
        pixel_values = self.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        with torch.inference_mode(), precisions.autocast(self.precision, self.device):
            tokens = self._encode_pixels(pixel_values.to(self.device))
        tokens = tokens.float()
        return [tokens[row].clone() for row in range(tokens.shape[0])]  # a row alone, not a view of the batch

    def caption(self, features: Sequence[torch.Tensor], beam_size: int, num_captions: int) -> list[list[Caption]]:
        if not features:
            return []
        batch = torch.stack([feature.to(self.device) for feature in features])
        num_beams = max(beam_size, num_captions)
        config = self._generation_settings()
        config.update(
            do_sample=False, num_beams=num_beams, num_return_sequences=num_beams, max_new_tokens=self.max_new_tokens,
            max_length=None, output_attentions=False, output_scores=False, return_dict_in_generate=False,
        )
        end_ids = _id_set(config.eos_token_id)
        with torch.inference_mode(), precisions.autocast(self.precision, self.device):
            sequences = self._generate(batch, config).cpu().tolist()
        chosen = self._distinct(sequences, len(features), num_beams, num_captions, end_ids)
        captions = self._captions(batch, chosen, _first_id(config.pad_token_id))
        return [
            sorted((c for c, pick in zip(captions, chosen) if pick.photo == photo), key=lambda c: c.score, reverse=True)
            for photo in range(len(features))
        ]

    # -- the two passes --------------------------------------------------------------------------

    def _distinct(
        self, sequences: list[list[int]], photos: int, per_photo: int, wanted: int, end_ids: set[int]
    ) -> list[_Chosen]:
        """The first ``wanted`` sequences of each photo whose texts differ, cut after their end token."""
        chosen = []
        for photo in range(photos):
            seen: set[str] = set()
            for row in sequences[photo * per_photo:(photo + 1) * per_photo]:
                tokens = _until_end(row[PROMPT_LENGTH:], end_ids)
                text = " ".join(word.text for word in group_words(self.tokenizer, tokens))
                if text in seen:
                    continue
                seen.add(text)
                chosen.append(_Chosen(photo=photo, start=row[0], tokens=tokens))
                if len(seen) == wanted:
                    break
        return chosen

    def _captions(self, batch: torch.Tensor, chosen: list[_Chosen], pad_id: int) -> list[Caption]:
        """Each chosen sequence scored in one teacher-forced pass: token probabilities and maps, then words."""
        longest = max(len(pick.tokens) for pick in chosen)
        rows = [[pick.start] + pick.tokens + [pad_id] * (longest - len(pick.tokens)) for pick in chosen]
        input_ids = torch.tensor(rows, dtype=torch.long, device=self.device)  # (N, 1 + longest)
        lengths = torch.tensor([1 + len(pick.tokens) for pick in chosen], device=self.device)
        mask = (torch.arange(input_ids.shape[1], device=self.device) < lengths.unsqueeze(1)).long()
        features = batch[torch.tensor([pick.photo for pick in chosen], device=self.device)]
        with torch.inference_mode(), precisions.autocast(self.precision, self.device):
            # Position t predicts token t + 1: the last token is only a target.
            logits, attention = self._score(features, input_ids[:, :-1], mask[:, :-1])
            targets = input_ids[:, 1:]
            log_probs = torch.log_softmax(logits.float(), dim=-1).gather(2, targets.unsqueeze(2)).squeeze(2)
        token_log_probs = log_probs.float().cpu().numpy()  # (N, longest)
        grid = patch_grid(self.vision_config, attention.shape[-1])
        maps = None if grid is None else patch_maps(attention, grid)  # (N, longest, h, w)
        captions = []
        for row, pick in enumerate(chosen):
            count = len(pick.tokens)
            logs = token_log_probs[row, :count].astype(np.float64)
            words = group_words(self.tokenizer, pick.tokens)
            records = word_records(words, np.exp(logs), None if maps is None else maps[row, :count])
            log_prob = float(logs.sum())
            captions.append(Caption(
                text=" ".join(record.word for record in records), words=records,
                score=log_prob / max(count, 1), log_prob=log_prob,
            ))
        return captions


def max_new_tokens(generation_config) -> int:
    """How many tokens a caption may have (see the module docstring)."""
    if generation_config.max_new_tokens:
        wanted = int(generation_config.max_new_tokens)
    elif generation_config.max_length:
        wanted = int(generation_config.max_length) - PROMPT_LENGTH
    else:
        wanted = DEFAULT_NEW_TOKENS
    return max(1, min(wanted, MAX_NEW_TOKENS))


def mean_attention(per_layer: Sequence[torch.Tensor]) -> torch.Tensor:
    """Attention ``(N, heads, T, K)`` of each layer -> their mean over layers and heads ``(N, T, K)``, float32."""
    return torch.stack([layer.float() for layer in per_layer]).mean(dim=(0, 2))


def _load_processors(source: PretrainedSource):
    """The image processor and tokenizer saved beside the weights; one line naming the folder when they are not.

    The tokenizer's files are checked first: transformers makes an empty tokenizer (special tokens
    only) from a folder without them, which would decode every caption to ``[UNK]``.
    """
    from transformers import AutoImageProcessor, AutoTokenizer

    check_tokenizer_files(source)
    try:
        image_processor = AutoImageProcessor.from_pretrained(
            source.folder, local_files_only=True, trust_remote_code=False
        )
        tokenizer = AutoTokenizer.from_pretrained(source.folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PretrainedModelError(
            f"{source.name}: cannot read its image processor and tokenizer in {source.folder} ({first_line})"
        ) from error
    return image_processor, tokenizer


def _until_end(tokens: list[int], end_ids: set[int]) -> list[int]:
    """``tokens`` up to and including the first end token (the padding after it dropped)."""
    for index, token in enumerate(tokens):
        if token in end_ids:
            return tokens[: index + 1]
    return tokens


def _id_set(ids) -> set[int]:
    if ids is None:
        return set()
    if isinstance(ids, (list, tuple)):
        return {int(i) for i in ids}
    return {int(ids)}


def _first_id(ids) -> int:
    if isinstance(ids, (list, tuple)):
        return int(ids[0]) if ids else 0
    return 0 if ids is None else int(ids)
