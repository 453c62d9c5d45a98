"""BLIP captioning (``BlipForConditionalGeneration``, e.g. Salesforce/blip-image-captioning-base).

``encode`` runs BLIP's vision transformer once per photo and caches its output tokens (CLS and
one per patch); captions come from the BERT-style text decoder, which reads them through
cross-attention, started from ``[DEC]`` and stopped at ``[SEP]`` as
``BlipForConditionalGeneration.generate`` does, but called directly so the vision transformer is
not run again. No text prompt: the caption is the model's own, unconditional one.

Where the decoder looked: its cross-attention from the position that wrote a token to the patch
tokens, averaged over the heads and over every layer. Every layer's cross-attention reads the
same patch grid, and which layers ground words best differs between models and was not measured
(the released weights could not be downloaded where this was written); the mean of all of them
favours none, and no single head or layer decides the map. A per-model choice of layers can
replace it once measured on the real weights. The CLS token is dropped and the map scaled to sum
to 1 (``caption_maps``). BLIP's processor resizes the whole photo to a square
without cropping, so the map covers the whole photo (``attention_region``).
"""

from __future__ import annotations

import torch
from transformers import BlipForConditionalGeneration

from vqadesk.engine.pretrained.hub_captioner import TransformersCaptioner, mean_attention


class BlipCaptioner(TransformersCaptioner):
    """BLIP's captioner; its cached entry per photo is the vision transformer's output ``(1 + patches, D)``."""

    model_class = BlipForConditionalGeneration

    @property
    def vision_encoder(self) -> torch.nn.Module:
        return self.model.vision_model

    @property
    def vision_config(self):
        return self.model.config.vision_config

    def _encode_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.vision_model(pixel_values=pixel_values).last_hidden_state

    def _generation_settings(self):
        config = super()._generation_settings()
        text = self.model.config.text_config
        config.bos_token_id, config.eos_token_id, config.pad_token_id = (
            text.bos_token_id, text.sep_token_id, text.pad_token_id
        )
        return config

    def _generate(self, features: torch.Tensor, config) -> torch.Tensor:
        start = torch.full((features.shape[0], 1), config.bos_token_id, dtype=torch.long, device=self.device)
        return self.model.text_decoder.generate(
            input_ids=start,
            encoder_hidden_states=features,
            encoder_attention_mask=_all_visible(features),
            generation_config=config,
        )

    def _score(
        self, features: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model.text_decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=features,
            encoder_attention_mask=_all_visible(features),
            output_attentions=True,
            use_cache=False,
        )
        return output.logits, mean_attention(output.cross_attentions)


def _all_visible(features: torch.Tensor) -> torch.Tensor:
    """Cross-attention mask: every image token of every photo is there (``(B, K)`` ones, as BLIP builds it)."""
    return torch.ones(features.shape[:2], dtype=torch.long, device=features.device)
