"""GIT captioning (``GitForCausalLM``, e.g. microsoft/git-base-coco).

GIT has no cross-attention: its text decoder is one transformer over the image tokens (CLIP's
vision transformer, then a projection) followed by the text, the image tokens attending each
other and the text attending the image and the text before it.

The cache: ``GitForCausalLM.forward`` / ``generate`` take only pixels (``pixel_values``) and run
the vision transformer on every call; they cannot take precomputed image tokens. So the
captioner keeps the two image modules for ``encode`` (vision transformer + projection, run once
per photo: the cached entry is the projected image tokens ``(1 + patches, D)``) and puts in their
place, inside its own copy of the model, a stand-in that hands the decoder the tokens it is
given: ``pixel_values`` carries the cached tokens as ``(B, 1, K, D)`` (GitModel's four-dimensional
single-image path), and generate expands them across the beams and drops them after the first
step as it does pixels. A second caption of the same photo (another beam width) therefore never
runs the vision transformer. Models made for video (``num_image_with_embedding``) are refused.

Where the decoder looked: its self-attention from the position that wrote a token to the patch
tokens' positions (the CLS token dropped, the rest scaled to sum to 1), averaged over heads and
over every layer, for the reasons ``blip_captioner`` gives. GIT's processor (CLIP's) resizes the
shorter side and cuts out the centre square, so the map covers the centre square of the photo.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import GitForCausalLM
from transformers.modeling_outputs import BaseModelOutput

from vqadesk.engine.pretrained.hub_captioner import TransformersCaptioner, mean_attention
from vqadesk.engine.torch_free.hub.references import PretrainedModelError


class _ImageTokensGiven(nn.Module):
    """Stands in for GIT's vision transformer: ``pixel_values`` ``(B, 1, K, D)`` already are the image tokens."""

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=pixel_values[:, 0])


class GitCaptioner(TransformersCaptioner):
    """GIT's captioner; its cached entry per photo is the projected image tokens ``(1 + patches, D)``."""

    model_class = GitForCausalLM

    def __init__(self, source, device, precision):
        super().__init__(source, device, precision)
        if self.model.config.num_image_with_embedding is not None:
            raise PretrainedModelError(
                f"{source.name}: a GIT model for video (num_image_with_embedding="
                f"{self.model.config.num_image_with_embedding}) cannot caption a photo; use an image one"
            )
        git = self.model.git
        self._vision, self._projection = git.image_encoder, git.visual_projection
        git.image_encoder, git.visual_projection = _ImageTokensGiven(), nn.Identity()

    @property
    def vision_encoder(self) -> torch.nn.Module:
        return self._vision

    @property
    def vision_config(self):
        return self.model.config.vision_config

    def _encode_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self._projection(self._vision(pixel_values).last_hidden_state)

    def _generate(self, features: torch.Tensor, config) -> torch.Tensor:
        start = torch.full((features.shape[0], 1), config.bos_token_id, dtype=torch.long, device=self.device)
        return self.model.generate(input_ids=start, pixel_values=features.unsqueeze(1), generation_config=config)

    def _score(
        self, features: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(
            input_ids=input_ids, attention_mask=attention_mask, pixel_values=features.unsqueeze(1),
            output_attentions=True, use_cache=False,
        )
        image_tokens = features.shape[1]
        attention = mean_attention(output.attentions)  # (N, K + T, K + T)
        return output.logits[:, image_tokens:], attention[:, image_tokens:, :image_tokens]
