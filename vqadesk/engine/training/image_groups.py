"""Training batches made of whole images: each image encoded once per step.

A Shapes image has ten questions and five captions; a VQA v2 image about
five questions. Sampling questions (or captions) one by one would run the
image encoder — most of a step's cost — once per question. Instead an epoch
shuffles *images*, and a batch holds every example of its images: the
encoder sees each image once and its features are repeated for the image's
questions with ``image_index``. ``--batch-size`` therefore counts images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vqadesk.engine.image_tensors import gather_images


class ImageGroups:
    """``examples`` (``VqaExamples`` or ``CaptionExamples``) grouped by image."""

    def __init__(self, examples):
        self.examples = examples
        rows = examples.image_rows  # (N,) the image row of each example
        order = torch.argsort(rows, stable=True)
        image_rows, counts = torch.unique_consecutive(rows[order], return_counts=True)
        self.image_rows = image_rows  # (G,) one entry per image that has examples
        self.members: tuple[torch.Tensor, ...] = torch.split(order, counts.tolist())

    def __len__(self) -> int:
        return len(self.members)

    @property
    def example_count(self) -> int:
        return len(self.examples)

    def batch(self, groups: Sequence[int]) -> dict[str, torch.Tensor]:
        """Every example of the images ``groups``; ``image`` holds each image once
        (G, 3, S, S) and ``image_index`` (N,) says which of them each example uses."""
        members = [self.members[g] for g in groups]
        batch = self.examples.batch(torch.cat(members))
        batch["image"] = gather_images(self.examples.images, self.image_rows[list(groups)])
        sizes = torch.tensor([len(m) for m in members])
        batch["image_index"] = torch.repeat_interleave(torch.arange(len(members)), sizes)
        return batch
