"""Grounded attention: the objects a question names tell each glimpse where to look.

The attention model never learned "is the A left of the B?" from answers
alone: its glimpses stayed diffuse on those questions (docs/models.md), because
nothing rewards finding A before the answer depends on it. Where a dataset says which instances a question names
(``vqadesk.data.grounding``; the Shapes world writes it), training adds a
cross entropy between each glimpse's attention and the named object's box,
spread over the grid cells it covers -- the attention supervision of
"Human Attention in VQA" (Das et al. 2016) and Qiao et al. 2018, with
boxes for human maps:

    one object named ("what color is the A?"):   every glimpse -> A
    several named ("is the A left of the B?"):   glimpse 0 -> A, glimpse 1 -> B

    target_g(cell) = area(box ∩ cell) / area(box)          (B, G, h, w), sums to 1
    loss = mean over supervised (question, glimpse) of -sum_cells target_g * log attention_g

Questions that name groups (counts, comparisons) are left to the answer loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from vqadesk.data.coco import CocoIndex
from vqadesk.errors import DataFormatError

# Boxes kept per question: spatial questions name two objects, attribute questions one.
MAX_NAMED = 2
# log(0) is -inf; an attention weight this small is "nowhere".
_LOG_FLOOR = 1e-8


def grounding_boxes(
    grounding: Mapping[int, tuple[int, tuple[int, ...]]],
    source: Path,
    coco: CocoIndex,
    question_ids: Sequence[int],
    question_image_ids: Sequence[int],
) -> Tensor:
    """``(N_q, MAX_NAMED, 4)`` float32 boxes ``(x0, y0, x1, y1)`` as fractions of the image,
    in the order each question names its objects; NaN where a question names fewer.

    ``grounding`` is ``read_grounding(source)``. An instance the COCO index does
    not have on the question's image is an error that names the file and question.
    """
    boxes = torch.full((len(question_ids), MAX_NAMED, 4), math.nan, dtype=torch.float32)
    boxes_by_image: dict[int, dict[int, tuple[float, float, float, float]]] = {}  # fractions of the image
    for row, (question_id, image_id) in enumerate(zip(question_ids, question_image_ids)):
        entry = grounding.get(question_id)
        if entry is None:
            continue
        grounded_image, instance_ids = entry
        if grounded_image != image_id:
            raise DataFormatError(source, f"question {question_id} is about image {image_id}, "
                                  f"but the grounding file says image {grounded_image}")
        objects = boxes_by_image.get(image_id)
        if objects is None:
            objects = boxes_by_image[image_id] = _fractional_boxes(coco, image_id)
        for slot, instance_id in enumerate(instance_ids[:MAX_NAMED]):
            if instance_id not in objects:
                raise DataFormatError(source, f"question {question_id} names instance {instance_id}, "
                                      f"which the instances file does not have on image {image_id}")
            boxes[row, slot] = torch.tensor(objects[instance_id])
    return boxes


def _fractional_boxes(coco: CocoIndex, image_id: int) -> dict[int, tuple[float, float, float, float]]:
    """``{instance id: (x0, y0, x1, y1)}`` of one image's objects, as fractions of its size."""
    width, height = coco.image_size(image_id)
    boxes = {}
    for obj in coco.objects(image_id):
        x, y, w, h = obj.bbox
        boxes[obj.id] = (x / width, y / height, (x + w) / width, (y + h) / height)
    return boxes


def box_attention_targets(boxes: Tensor, height: int, width: int) -> Tensor:
    """``(B, R, 4)`` boxes -> ``(B, R, height, width)``: each box's area per grid cell, summing to 1.

    A NaN box gives an all-zero map. Cell (i, j) covers ``[j/width, (j+1)/width]``
    by ``[i/height, (i+1)/height]`` of the image.
    """
    boxes = boxes.nan_to_num(0.0)
    x_edges = torch.linspace(0, 1, width + 1, device=boxes.device)
    y_edges = torch.linspace(0, 1, height + 1, device=boxes.device)
    x0, y0, x1, y1 = (boxes[..., k, None] for k in range(4))  # each (B, R, 1)
    overlap_x = (torch.minimum(x1, x_edges[1:]) - torch.maximum(x0, x_edges[:-1])).clamp(min=0)  # (B, R, w)
    overlap_y = (torch.minimum(y1, y_edges[1:]) - torch.maximum(y0, y_edges[:-1])).clamp(min=0)  # (B, R, h)
    area = overlap_y[..., :, None] * overlap_x[..., None, :]  # (B, R, h, w)
    total = area.sum(dim=(2, 3), keepdim=True)
    return torch.where(total > 0, area / total.clamp(min=1e-12), torch.zeros_like(area))


def glimpse_targets(boxes: Tensor, glimpses: int, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Each glimpse's target map ``(B, G, h, w)`` and whether it has one ``(B, G)`` bool.

    One object named: every glimpse looks at it. Several: glimpse g at the g-th
    (glimpses beyond the named objects are left free).
    """
    named = ~boxes.isnan().any(dim=2)  # (B, R)
    count = named.sum(dim=1)  # (B,)
    maps = box_attention_targets(boxes, height, width)  # (B, R, h, w)
    g = torch.arange(glimpses, device=boxes.device)  # (G,)
    slot = torch.where(count[:, None] == 1, torch.zeros_like(g)[None, :], g[None, :])  # (B, G)
    slot = slot.clamp(max=boxes.shape[1] - 1)
    supervised = (count[:, None] > 0) & ((count[:, None] == 1) | (g[None, :] < count[:, None]))  # (B, G)
    targets = maps.gather(1, slot[:, :, None, None].expand(-1, -1, height, width))  # (B, G, h, w)
    return targets, supervised


def grounding_loss(attention: Tensor, boxes: Tensor) -> Tensor:
    """Mean cross entropy between the supervised glimpses' attention ``(B, G, h, w)`` and their targets.

    A batch where no question names an object gives a zero that still backpropagates.
    """
    batch, glimpses, height, width = attention.shape
    targets, supervised = glimpse_targets(boxes.to(attention.device), glimpses, height, width)
    if not supervised.any():
        return attention.sum() * 0.0
    log_attention = attention.float().clamp(min=_LOG_FLOOR).log()  # (B, G, h, w)
    cross_entropy = -(targets * log_attention).sum(dim=(2, 3))  # (B, G)
    return cross_entropy[supervised].mean()
