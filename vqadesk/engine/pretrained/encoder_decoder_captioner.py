"""Vision-encoder-decoder captioning (``VisionEncoderDecoderModel``, e.g.
nlpconnect/vit-gpt2-image-captioning: a ViT encoder and a GPT-2 decoder with cross-attention).

``encode`` runs the vision encoder once per photo and caches its output tokens (CLS and one per
patch); ``generate`` takes them as ``encoder_outputs``, so the encoder never runs again for that
photo. The decoder starts from the model's decoder start token and stops at its end token (for
GPT-2 both are ``<|endoftext|>``, which is also its padding).

Where the decoder looked: its cross-attention from the position that wrote a token to the patch
tokens (tokens before them such as CLS dropped, the rest scaled to sum to 1), averaged over heads
and over every layer, for the reasons ``blip_captioner`` gives. ViT's processor resizes the whole
photo to a square without cropping, so the map covers the whole photo (``attention_region`` reads
the processor's settings, so an encoder whose processor crops the centre is drawn there).
"""

from __future__ import annotations

import torch
from transformers import VisionEncoderDecoderModel
from transformers.modeling_outputs import BaseModelOutput

from vqadesk.engine.pretrained.hub_captioner import TransformersCaptioner, mean_attention


class EncoderDecoderCaptioner(TransformersCaptioner):
    """A vision-encoder-decoder captioner; its cached entry per photo is the encoder's output ``(K, D)``."""

    model_class = VisionEncoderDecoderModel

    @property
    def vision_encoder(self) -> torch.nn.Module:
        return self.model.encoder

    @property
    def vision_config(self):
        return self.model.config.encoder

    def _encode_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(pixel_values=pixel_values).last_hidden_state

    def _generate(self, features: torch.Tensor, config) -> torch.Tensor:
        # The masks say what the model cannot tell when the start, end and padding token are one
        # (GPT-2): every image token is there, and the start token is no padding.
        batch = features.shape[0]
        return self.model.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=features),
            attention_mask=torch.ones(features.shape[:2], dtype=torch.long, device=features.device),
            decoder_attention_mask=torch.ones((batch, 1), dtype=torch.long, device=features.device),
            generation_config=config,
        )

    def _score(
        self, features: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=features),
            decoder_input_ids=input_ids,
            decoder_attention_mask=attention_mask,
            output_attentions=True,
            use_cache=False,
        )
        return output.logits, mean_attention(output.cross_attentions)
