"""``attention``: question-guided attention over a FiLM-conditioned grid, the default.

The attention is "Show, Ask, Attend and Answer" (Kazemi & Elqursh 2017), a
simple, strong relative of stacked attention networks (Yang et al. 2016): the
question looks at the image grid ``glimpses`` times in parallel. Before it
looks, FiLM blocks (Perez et al. 2018) let the question scale and shift every
cell's features; and since softmax attention averages and cannot count, the
mean and max over all cells go to the classifier beside the glimpses. Each
glimpse also reports where it looked (the attention-weighted mean of the cells'
x and y), so "is A left of B" is a comparison of two numbers.

    grid (B, C, h, w) --L2 norm, x10, conv1x1, ReLU--> x (B, D, h, w)   question --LSTM--> q (B, H)
    FILM_BLOCKS x: x = x + ReLU(GroupNorm(conv1x1(x)) * (1 + gamma(q)) + beta(q))
    x --conv1x1, ReLU, conv1x1--> (B, G, h, w) --softmax over h*w--> attention (B, G, h, w)
    glimpse g = sum over cells of attention_g * x                  -> (B, G*D)
    position g = sum over cells of attention_g * (x, y) of the cell -> (B, G*2)
    offsets = question-chosen directions . (position_j - position_i), glimpse pairs i < j -> (B, 8)
    [glimpses ; positions ; relation ; offsets ; mean and max of x over cells ; q] --MLP--> logits (B, K)

Each glimpse also reads the question its own way: a softmax over the
question's token states picks the words it is about (Lu et al. 2016's
question attention), and those words are matched against every cell's
features before any question conditioning (a scaled dot product), so in
"is the red circle left of the square?" one glimpse can look for the red
circle and the other for the square. Their logits add to those of the
FiLM path.

    token states (B, T, H) --per-glimpse softmax over tokens--> words_g (B, G, H)
    keys = conv1x1(x before FiLM) (B, D, h, w);  match_g = keys . W words_g / sqrt(D)
    attention logits = conv path above + match

"Is the A left of the B?" needs two more things. Its glimpses must find A
and B: answers alone never taught them to (they stayed diffuse), so where
the data name a question's objects, training points each glimpse at its
object's box (``engine/training/grounding.py``). And the answer flips with the
relation ("left of" / "right of") for the same position difference, an XOR
that the MLP over positions never learned (with the glimpses on A and B,
spatial answers stayed at chance): ``GlimpseOffsets`` lets the question
choose directions along which the glimpses' position differences are read,
so the answer is the sign of one number. Relations between cells that no
glimpse singles out are left to a Relation Network (Santoro et al. 2017)
over every pair of cells, whose pair function's first layer is split into a
per-cell part, which makes all h*w x h*w pairs cost one addition each --
and summed with a sort and a binary search (``sum_of_pair_relus``) instead
of being formed:

    o_i = [x_i ; (x, y) of cell i]                                   (question-conditioned cells)
    relation = sum over i, j of ReLU(A o_i + B o_j + C q) / (h*w)    -> (B, RELATION_DIM)

The question vector is the last LSTM layer's final hidden state (or the
transformer's pooled output with ``question_encoder="transformer"``). The
attention maps are returned for plotting; each sums to 1 over the grid.
docs/models.md says why each part is there.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vqadesk.models.dropout import Dropout
from vqadesk.models.small_cnn import coordinate_channels
from vqadesk.models.vqa_config import VqaModelConfig
from vqadesk.models.vqa_model import VqaModel, VqaOutput, classifier_mlp, l2_normalise

# Question-conditioned (FiLM) residual blocks between the image grid and the attention.
FILM_BLOCKS = 2
# L2-normalised features have entries ~1/sqrt(C); scale them back to ~1 for the convolutions.
L2_SCALE = 10.0
# Attended positions are in [-1, 1]; the fused vector's other entries are O(1) to O(10).
POSITION_SCALE = 4.0
# Width of the relation module's pair function (cost: h*w * h*w * RELATION_DIM per question).
RELATION_DIM = 64
# Directions the question chooses to read the glimpses' relative positions along.
OFFSET_DIRECTIONS = 8


def sum_of_pair_relus(first: Tensor, second: Tensor) -> Tensor:
    """``sum over i, j of ReLU(first_i + second_j)`` per channel, without the (N, N) pairs.

    first, second: (B, N, R) -> (B, R). For each channel, with ``second``
    sorted, ``first_i`` pairs with exactly the ``second_j > -first_i``: a
    count and a suffix sum found by binary search, O(N log N) instead of
    O(N^2) time and memory. Exact, and differentiable (the gradient flows
    through ``first_i`` times its count and through the gathered sums).
    """
    a = first.transpose(1, 2).contiguous()  # (B, R, N)
    b, _ = second.transpose(1, 2).contiguous().sort(dim=-1)  # (B, R, N), ascending
    n = b.shape[-1]
    # suffix[k] = sum of b[k:], with suffix[n] = 0.
    suffix = torch.cat((b.flip(-1).cumsum(-1).flip(-1), b.new_zeros(*b.shape[:-1], 1)), dim=-1)  # (B, R, N+1)
    # (B, R, N): first b_j > -a_i
    start = torch.searchsorted(b.detach().contiguous(), (-a).detach().contiguous(), right=True)
    count = (n - start).to(a.dtype)
    return (count * a + suffix.gather(-1, start)).sum(dim=-1)  # (B, R)


class PairRelations(nn.Module):
    """sum over cell pairs (i, j) of ReLU(A o_i + B o_j + C q) / cells: a Relation Network's
    first layer, computed per cell; the pairs are summed exactly without being formed."""

    def __init__(self, cell_dim: int, question_dim: int, out_dim: int = RELATION_DIM):
        super().__init__()
        self.first = nn.Linear(cell_dim, out_dim)
        self.second = nn.Linear(cell_dim, out_dim, bias=False)
        self.question = nn.Linear(question_dim, out_dim, bias=False)
        self.output_dim = out_dim

    def forward(self, cells: Tensor, question: Tensor) -> Tensor:
        first = self.first(cells)  # (B, N, R): cell i as the first of a pair
        second = self.second(cells) + self.question(question)[:, None, :]  # (B, N, R)
        # The suffix sums add up to h*w terms: float32 even under bf16/fp16 autocast.
        return sum_of_pair_relus(first.float(), second.float()) / cells.shape[1]  # (B, R)


class GlimpseOffsets(nn.Module):
    """Where the glimpses are relative to each other, read along directions the question picks.

    "Is the A left of the B?" is yes when x_B - x_A > 0, and "right of" when
    it is < 0: averaged over the relations, a position difference says
    nothing about the answer, so an MLP over positions alone faces an XOR
    and learns it slowly or never (the glimpses found A and B, and spatial
    answers stayed at chance). Here the question turns the difference into
    a signed number directly:

        offset = position_j - position_i for every glimpse pair i < j        (B, 2P)
        directions = reshape(Linear(q)) (B, OFFSET_DIRECTIONS, 2P);  out = directions @ offset
    """

    def __init__(self, glimpses: int, question_dim: int, directions: int = OFFSET_DIRECTIONS):
        super().__init__()
        pairs = [(i, j) for i in range(glimpses) for j in range(i + 1, glimpses)]
        self.register_buffer("first", torch.tensor([i for i, _ in pairs], dtype=torch.long), persistent=False)
        self.register_buffer("second", torch.tensor([j for _, j in pairs], dtype=torch.long), persistent=False)
        self.directions = directions
        self.project = nn.Linear(question_dim, directions * 2 * len(pairs)) if pairs else None
        self.output_dim = directions if pairs else 0

    def forward(self, positions: Tensor, question: Tensor) -> Tensor:
        """positions (B, G, 2), question (B, H) -> (B, output_dim)."""
        if self.project is None:
            return positions.new_zeros(positions.shape[0], 0)
        offset = (positions[:, self.second] - positions[:, self.first]).flatten(1)  # (B, 2P)
        directions = self.project(question).view(question.shape[0], self.directions, -1)  # (B, O, 2P)
        return torch.bmm(directions, offset.unsqueeze(-1)).squeeze(-1)  # (B, O)


class FilmBlock(nn.Module):
    """A FiLM residual block (Perez et al. 2018): a per-cell (1x1) convolution,
    normalise, then the question scales and shifts every channel, ReLU, add the
    input back. FiLM's 3x3 convolutions cost 9x more per question on a CPU;
    positions are in the grid already (coordinate channels), so 1x1 suffices."""

    def __init__(self, channels: int, question_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=1, bias=False)
        # Per-example normalisation: unlike BatchNorm it behaves the same in
        # training and evaluation, whatever questions share a batch.
        self.norm = nn.GroupNorm(math.gcd(8, channels), channels, affine=False)
        self.film = nn.Linear(question_dim, 2 * channels)

    def forward(self, x: Tensor, question: Tensor) -> Tensor:
        gamma, beta = self.film(question).chunk(2, dim=1)  # (B, D) each
        y = self.norm(self.conv(x)) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        return x + torch.relu(y)  # (B, D, h, w)


class AttentionVqa(VqaModel):
    """Question-guided soft attention over a question-conditioned grid, ``glimpses`` maps."""

    def __init__(self, *, config: VqaModelConfig):
        super().__init__(config=config)
        self.question_encoder = self.configured_question_encoder(lstm_states="last")
        image_channels, _ = self.image_encoder.output_shape
        question_dim = self.question_encoder.output_dim
        width = config.attention_dim
        self.dropout = Dropout(config.dropout)
        self.project = nn.Sequential(nn.Conv2d(image_channels, width, kernel_size=1), nn.ReLU(inplace=True))
        self.film_blocks = nn.ModuleList(FilmBlock(width, question_dim) for _ in range(FILM_BLOCKS))
        self.attention = nn.Sequential(
            nn.Conv2d(width, width, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, config.glimpses, kernel_size=1),
        )
        token_dim = self.question_encoder.output_dim
        self.word_attention = nn.Linear(token_dim, config.glimpses)  # one softmax over the words per glimpse
        self.word_queries = nn.Linear(token_dim, width)
        self.keys = nn.Conv2d(width, width, kernel_size=1)
        self.relations = PairRelations(width + 2, question_dim)
        self.offsets = GlimpseOffsets(config.glimpses, question_dim)
        self.classifier = classifier_mlp(
            in_dim=(config.glimpses + 2) * width + 2 * config.glimpses + self.relations.output_dim
            + self.offsets.output_dim + question_dim, hidden_dim=config.fusion_dim,
            layers=config.mlp_layers, num_answers=config.num_answers, dropout=config.dropout,
        )

    def answer(self, features: Tensor, questions: Tensor, lengths: Tensor) -> VqaOutput:
        if features.dim() != 4:
            raise ValueError(
                f"the attention model needs grid features (B, C, h, w), got {tuple(features.shape)}"
            )
        batch, _, height, width = features.shape
        tokens, real, question = self.question_encoder.token_states(questions.to(features.device), lengths)
        grid = self.project(l2_normalise(features, dim=1) * L2_SCALE)  # (B, D, h, w)
        keys = self.keys(grid).flatten(2)  # (B, D, h*w): what each cell holds, whatever the question
        for block in self.film_blocks:
            grid = block(grid, question)  # (B, D, h, w), now about this question
        # Each glimpse's words: a softmax over the real tokens, then their states' mean.
        word_scores = self.word_attention(tokens).masked_fill(~real.unsqueeze(-1), float("-inf"))  # (B, T, G)
        words = torch.bmm(torch.softmax(word_scores, dim=1).transpose(1, 2), tokens)  # (B, G, H)
        match = torch.bmm(self.word_queries(words), keys) / math.sqrt(keys.shape[1])  # (B, G, h*w)
        scores = self.attention(grid).flatten(2) + match  # (B, G, h*w)
        weights = torch.softmax(scores, dim=2)  # (B, G, h*w), sums to 1 per glimpse
        cells = grid.flatten(2)  # (B, D, h*w)
        glimpses = torch.bmm(weights, cells.transpose(1, 2))  # (B, G, D): what it saw
        # Where each glimpse looked: relations ("left of", "above") compare these.
        cell_xy = coordinate_channels(features[:1]).flatten(2)[0].t()  # (h*w, 2) in [-1, 1]
        positions = torch.matmul(weights, cell_xy) * POSITION_SCALE  # (B, G, 2)
        # Softmax attention averages, so it cannot count; the mean and max over
        # all cells of the question-conditioned grid keep "how many" and "is there".
        pooled = torch.cat((cells.mean(dim=2), cells.amax(dim=2)), dim=1)  # (B, 2D)
        # Every pair of cells, for "left of", "above" and other relations between two objects.
        located = torch.cat((cells.transpose(1, 2), cell_xy.expand(batch, -1, -1)), dim=2)  # (B, h*w, D + 2)
        relation = self.relations(located, question)  # (B, R)
        offsets = self.offsets(positions, question)  # (B, OFFSET_DIRECTIONS) or (B, 0)
        fused = self.dropout(
            torch.cat((glimpses.flatten(1), positions.flatten(1), relation, offsets, pooled, question), dim=1)
        )
        attention = weights.view(batch, -1, height, width)  # (B, G, h, w)
        return VqaOutput(logits=self.classifier(fused), attention=attention)
