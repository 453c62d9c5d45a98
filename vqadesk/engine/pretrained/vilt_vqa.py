"""ViLT for VQA (``ViltForQuestionAnswering``, e.g. ``dandelin/vilt-b32-finetuned-vqa``): an answer classifier.

ViLT has no image encoder of its own: the photo's 32-pixel patches and the question's word pieces
go through one transformer together, from the first layer. So nothing of the image but its
preprocessing can be reused across questions: ``encode`` only resizes and normalises the photo
(the processor keeps the aspect ratio: shorter side 384 px, longer at most 640, both multiples of
32), and every question runs the whole model.

Answers: a softmax over the model's answer labels (``config.id2label``, VQA v2's 3,129 most common
answers), top-k best first. ViLT was trained with a sigmoid per answer (VQA's soft scores), so the
softmax is a ranking turned into probabilities that sum to 1, as the own models report theirs.

Heatmap: **attention rollout** (Abnar & Zuidema, 2020) from the text [CLS] token, whose last hidden
state is all the answer head reads, to the image patches. ViLT mixes image and text in every
layer, so the last layer's attention alone says which *positions* [CLS] reads at the end, whose
content earlier layers already blended with their neighbours'; rollout follows the information
back to the input patches: per layer, attention averaged over heads, plus the identity for the
residual connection (``0.5 A + 0.5 I``, rows renormalised), multiplied through the layers. The
[CLS] row's weights on the patch tokens, placed at each patch's row and column, are the
``(h, w)`` map; it covers the whole photo (``WHOLE_IMAGE``), which the processor resized without
cropping.

ViLT's embedding samples its patch tokens (``visual_embed``: with ``max_image_length`` -1 it keeps
every patch of the photo, in a random order drawn from torch's global generator). The patch
tokens are made here, with the generator seeded inside a forked RNG state, so each token's grid
position is known, answers do not depend on the caller's random state, and the caller's random
state is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vqadesk.engine.precision import autocast
from vqadesk.engine.pretrained.base import PretrainedAnswers, PretrainedVqa, load_weights
from vqadesk.engine.pretrained.tokenizer_files import check_vocabulary
from vqadesk.engine.pretrained.vqa_maps import normalised_map
from vqadesk.engine.torch_free.hub.references import PretrainedSource
from vqadesk.engine.torch_free.predictions import WHOLE_IMAGE, Answer

_PATCH_ORDER_SEED = 0  # seeds visual_embed's draw of patch order: the same order for every call
_QUESTIONS_PER_PASS = 8  # bounds the memory of every layer's (heads, S, S) attention, kept for the heatmap
_RESIDUAL_WEIGHT = 0.5  # rollout: the identity's share for the residual connection


@dataclass(frozen=True)
class ViltPixels:
    """One photo as ViLT reads it: normalised ``(3, H, W)`` pixels on the model's device."""

    pixel_values: torch.Tensor


class ViltVqa(PretrainedVqa):
    attention_region = WHOLE_IMAGE

    def __init__(self, source: PretrainedSource, device: torch.device, precision: str):
        from transformers import ViltForQuestionAnswering, ViltProcessor

        super().__init__(source, device, precision)
        self.model = load_weights(ViltForQuestionAnswering, source, device)
        self.processor = ViltProcessor.from_pretrained(source.folder, local_files_only=True)
        config = self.model.config
        check_vocabulary(self.processor.tokenizer, config.vocab_size, source)
        self.labels = [config.id2label[index] for index in range(config.num_labels)]
        self.patch_size = config.patch_size
        self.max_question_tokens = config.max_position_embeddings

    def encode(self, images: Sequence[Image.Image]) -> list[ViltPixels]:
        """Each photo resized and normalised, at its own size (no padding: batches pad in ``answer``)."""
        encoded = []
        for image in images:
            pixels = self.processor.image_processor(images=[image], return_tensors="pt")["pixel_values"]
            encoded.append(ViltPixels(pixel_values=pixels[0].to(self.device)))
        return encoded

    def answer(self, features: Sequence[ViltPixels], questions: Sequence[str], top_k: int) -> list[PretrainedAnswers]:
        """The answers, ``_QUESTIONS_PER_PASS`` questions at a time (memory stays bounded for any batch)."""
        results: list[PretrainedAnswers] = []
        for start in range(0, len(questions), _QUESTIONS_PER_PASS):
            end = start + _QUESTIONS_PER_PASS
            results += self._answer_pass(features[start:end], questions[start:end], top_k)
        return results

    def _answer_pass(
        self, features: Sequence[ViltPixels], questions: Sequence[str], top_k: int
    ) -> list[PretrainedAnswers]:
        text = self.processor.tokenizer(
            list(questions), padding=True, truncation=True, max_length=self.max_question_tokens, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode(), autocast(self.precision, self.device):
            pixel_values, pixel_mask = _pad(features)
            image_embeds, image_mask, patch_index = self._patch_tokens(pixel_values, pixel_mask)
            output = self.model(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                token_type_ids=text.get("token_type_ids"), image_embeds=image_embeds, pixel_mask=image_mask,
                output_attentions=True,
            )
        probs = torch.softmax(output.logits.float(), dim=-1)
        top_probs, top_index = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
        flow = cls_rollout(output.attentions)  # (N, T + 1 + L)
        first_patch = text["input_ids"].shape[1] + 1  # after the text tokens and the image's own [CLS]
        results = []
        for row, pixels in enumerate(features):
            grid = self._grid(flow[row, first_patch:], image_mask[row, 1:], patch_index[row], pixels)
            answers = [
                Answer(text=self.labels[index], prob=float(prob))
                for prob, index in zip(top_probs[row].tolist(), top_index[row].tolist())
            ]
            results.append(PretrainedAnswers(answers=answers, attention=grid))
        return results

    def _patch_tokens(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor):
        """ViLT's own patch embedding, with its patch order drawn from a fixed seed; and each token's (row, col)."""
        embeddings = self.model.vilt.embeddings
        with torch.random.fork_rng(devices=[]):  # the draw uses the CPU generator only
            torch.manual_seed(_PATCH_ORDER_SEED)
            image_embeds, image_mask, (patch_index, _) = embeddings.visual_embed(
                pixel_values, pixel_mask, max_image_length=self.model.config.max_image_length
            )
        return image_embeds, image_mask, patch_index

    def _grid(self, weights: torch.Tensor, mask: torch.Tensor, patch_index: torch.Tensor, pixels: ViltPixels):
        """The patch tokens' weights at their (row, col) on this photo's own patch grid, summing to 1."""
        height, width = (size // self.patch_size for size in pixels.pixel_values.shape[-2:])
        grid = np.zeros((height, width), dtype=np.float64)
        kept = mask.bool().cpu()
        rows, cols = patch_index.cpu()[kept].unbind(-1)
        np.add.at(grid, (rows.numpy(), cols.numpy()), weights.cpu()[kept].double().numpy())
        return normalised_map(grid)


def cls_rollout(attentions: Sequence[torch.Tensor]) -> torch.Tensor:
    """Attention rollout of token 0 over all tokens: ``(N, S)`` from per-layer ``(N, heads, S, S)`` maps."""
    first = attentions[0]
    batch, _, tokens, _ = first.shape
    identity = torch.eye(tokens, device=first.device)
    flow = torch.zeros(batch, 1, tokens, device=first.device)
    flow[:, 0, 0] = 1.0
    for layer in reversed(attentions):  # rollout = A_L ... A_1; token 0's row, from the last layer down
        mixed = (1.0 - _RESIDUAL_WEIGHT) * layer.float().mean(dim=1) + _RESIDUAL_WEIGHT * identity
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        flow = torch.bmm(flow, mixed)
    return flow[:, 0]


def _pad(features: Sequence[ViltPixels]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(N, 3, H, W)`` padded at the bottom and right to the largest photo, and ``pixel_mask`` (N, H, W)."""
    height = max(f.pixel_values.shape[-2] for f in features)
    width = max(f.pixel_values.shape[-1] for f in features)
    first = features[0].pixel_values
    pixels = torch.zeros((len(features), 3, height, width), dtype=first.dtype, device=first.device)
    mask = torch.zeros((len(features), height, width), dtype=torch.long, device=first.device)
    for row, f in enumerate(features):
        h, w = f.pixel_values.shape[-2:]
        pixels[row, :, :h, :w] = f.pixel_values
        mask[row, :h, :w] = 1
    return pixels, mask
