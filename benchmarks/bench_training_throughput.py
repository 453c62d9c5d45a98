"""Training throughput of the original report's two VQA models at its scale, on this machine.

The models, built with ``vqadesk.models`` exactly as the training routine would:

* ``bow`` -- "BoW Q + I": a 4,096-d image feature (VGG-16 fc7, precomputed) and a
  300-d bag-of-words question vector -> 3 x 1,024 MLP -> 1,000 answers;
* ``lstm`` -- "deeper LSTM Q + norm I": a 2-layer LSTM of 512 units over 300-d
  embeddings, its 2,048-d state and the L2-normalised 4,096-d image feature each
  projected to 1,024, multiplied, 1,024 -> 1,000 answers.

The data are synthetic but of the report's shapes: 215k samples an epoch, each a
precomputed 4,096-d feature (a pool of random rows, gathered per batch as from an
in-memory feature store), a question of 6-10 random ids from a 10,000-word
vocabulary padded to the routine's 24 tokens, and one of 1,000 answers.

Three variants: ``unfused`` is torch's default Adam (the for-each kernel), to
show what the fused kernel gains; ``routine`` is what ``python -m
training.vqa`` does (its optimiser from ``make_optimizer``: Adam's fused kernel,
float32); ``routine-bf16`` also runs the forward pass under bfloat16 autocast
(the backward follows it), as ``--precision bf16`` does, on CPUs with
AVX512-BF16 or AMX.

Each configuration runs ``--warmup`` untimed steps, then about ``--samples``
samples of timed steps (forward, cross-entropy, backward, optimiser step),
``--repeats`` times; the epoch time is 215,000 / the median samples per second
-- an extrapolation from the timed steps, not a full epoch. The machine's
float32 (and bfloat16) matmul peak is measured in the same run with large
``torch.mm`` calls, and the models' useful work is counted analytically: the
matmul FLOPs of a forward pass (Linear layers and LSTM gates at the sampled
mean question length; embeddings, element-wise ops and the optimiser not
counted), x3 for forward + backward. Run from the repository root::

    python benchmarks/bench_training_throughput.py [--models bow lstm]
        [--variants unfused routine routine-bf16] [--batch-sizes 128 512] [--samples 8192]
        [--repeats 3] [--optimizer adam] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import cpu_model  # benchmarks/machine.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))  # machine.py beside it

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.training_config import TrainingConfig
from vqadesk.engine.training.trainer import make_optimizer
from vqadesk.models import ImageEncoderConfig, VqaModelConfig, build_vqa_model

EPOCH_SAMPLES = 215_000  # the original report's training set: VQA v1 train (~215k questions)
FEATURE_DIM = 4096  # VGG-16 fc7
VOCAB_SIZE = 10_000
NUM_ANSWERS = 1000
MAX_QUESTION_LEN = 24  # the training routine's default --max-len
QUESTION_LENGTHS = (6, 10)  # uniform, inclusive: VQA questions average ~6-8 words
FEATURE_POOL = 8192  # random feature rows the batches are gathered from

# Seconds per epoch: the original report, avisingh599/visual-qa (i7 CPU), and this project's targets.
REFERENCES = {
    "bow": {"original_report_s": 2190, "avisingh599_i7_s": 900, "target_s": 150},
    "lstm": {"original_report_s": 3780, "avisingh599_i7_s": 1900, "target_s": 300},
}


def model_config(name: str) -> VqaModelConfig:
    image_encoder = ImageEncoderConfig(name="precomputed", layer="fc7", feature_dim=FEATURE_DIM, trainable=False)
    common = {"image_encoder": image_encoder, "vocab_size": VOCAB_SIZE, "num_answers": NUM_ANSWERS,
              "embed_dim": 300, "fusion_dim": 1024, "dropout": 0.5, "max_question_len": MAX_QUESTION_LEN}
    if name == "bow":
        return VqaModelConfig(model="bow", mlp_layers=3, **common)
    return VqaModelConfig(model="lstm", question_encoder="lstm", hidden_dim=512, mlp_layers=1, **common)


def forward_flops_per_sample(config: VqaModelConfig, mean_length: float) -> float:
    """Matmul FLOPs (2 x multiply-adds) of one sample's forward pass."""

    def linear(inputs: int, outputs: int) -> int:
        return 2 * inputs * outputs

    if config.model == "bow":
        encoders = 0.0  # the bag of words is a mean of embeddings: no matmul
        width = config.embed_dim + FEATURE_DIM  # the MLP reads [question, image]
    else:
        hidden = config.hidden_dim
        # Two layers, four gates each, over the layer's input and its previous hidden state, per token.
        per_token = linear(config.embed_dim + hidden, 4 * hidden) + linear(hidden + hidden, 4 * hidden)
        encoders = (
            mean_length * per_token
            + linear(4 * hidden, config.fusion_dim)  # [h1, c1, h2, c2] -> fusion
            + linear(FEATURE_DIM, config.fusion_dim)  # image -> fusion
        )
        width = config.fusion_dim
    mlp = 0.0
    for _ in range(config.mlp_layers):
        mlp += linear(width, config.fusion_dim)
        width = config.fusion_dim
    return encoders + mlp + linear(width, config.num_answers)


def synthetic_data(seed: int, batch_size: int, batches: int):
    """``batches`` batches of (features, questions, lengths, answers) and the mean question length."""
    generator = torch.Generator().manual_seed(seed)
    pool = torch.randn(FEATURE_POOL, FEATURE_DIM, generator=generator).abs_()  # ReLU'd fc7 is non-negative
    low, high = QUESTION_LENGTHS
    out = []
    total_length = 0
    for _ in range(batches):
        rows = torch.randint(FEATURE_POOL, (batch_size,), generator=generator)
        lengths = torch.randint(low, high + 1, (batch_size,), generator=generator)
        questions = torch.randint(4, VOCAB_SIZE, (batch_size, MAX_QUESTION_LEN), generator=generator)
        questions[torch.arange(MAX_QUESTION_LEN).unsqueeze(0) >= lengths.unsqueeze(1)] = 0  # <pad>
        answers = torch.randint(NUM_ANSWERS, (batch_size,), generator=generator)
        out.append((rows, questions, lengths, answers))
        total_length += int(lengths.sum())
    return pool, out, total_length / (batch_size * batches)


VARIANTS = {
    # torch's default Adam (for-each kernel), float32
    "unfused": {"optimizer": "unfused", "bf16": False},
    # what `python -m training.vqa` does: the routine's optimiser (fused Adam), float32
    "routine": {"optimizer": "routine", "bf16": False},
    # ... and the forward pass under bfloat16 autocast: `--precision bf16`
    "routine-bf16": {"optimizer": "routine", "bf16": True},
}


def timed_steps(model, optimizer, pool, batches, *, bf16: bool) -> float:
    """Seconds for the training steps over ``batches`` (the features gathered per batch, as a loader would)."""
    start = time.perf_counter()
    for rows, questions, lengths, answers in batches:
        features = pool[rows]  # (B, 4096)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(features, questions, lengths).logits  # (B, 1000)
        loss = F.cross_entropy(logits.float(), answers)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def matmul_peak_gflops(dtype: torch.dtype, sizes=(2048, 4096), repeats: int = 5) -> dict[str, float]:
    """``torch.mm`` GFLOP/s of square matrices: the median of ``repeats`` for each size."""
    found = {}
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)  # warm-up: thread pool, BLAS dispatch
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - start)
        found[str(n)] = 2 * n**3 / statistics.median(times) / 1e9
    return found


@dataclass(frozen=True)
class Measurement:
    model: str
    variant: str
    batch_size: int
    optimizer: str
    parameters: int
    steps: int  # timed steps per repeat
    samples_per_s: float  # median of the repeats
    samples_per_s_runs: tuple[float, ...]
    epoch_s: float  # EPOCH_SAMPLES / samples_per_s
    train_gflop_per_sample: float  # 3 x forward matmul FLOPs
    achieved_gflops: float
    share_of_fp32_peak: float


def measure(name: str, variant: str, batch_size: int, args, fp32_peak: float) -> Measurement:
    torch.manual_seed(args.seed)
    config = model_config(name)
    model = build_vqa_model(config).train()
    settings = VARIANTS[variant]
    if settings["optimizer"] == "unfused" and args.optimizer == "adam":
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, fused=False)
    else:  # the training routine's own optimiser, with its defaults (lr 1e-3, SGD momentum 0.9)
        training = TrainingConfig(task=ModelKind.VQA, data="-", out="-", model=name, optimizer=args.optimizer)
        optimizer = make_optimizer(training, model.parameters())
    steps = max(args.min_steps, math.ceil(args.samples / batch_size))
    pool, batches, mean_length = synthetic_data(args.seed, batch_size, steps + args.warmup)
    timed_steps(model, optimizer, pool, batches[: args.warmup], bf16=settings["bf16"])
    runs = []
    for _ in range(args.repeats):
        seconds = timed_steps(model, optimizer, pool, batches[args.warmup :], bf16=settings["bf16"])
        runs.append(steps * batch_size / seconds)
    rate = statistics.median(runs)
    train_flops = 3 * forward_flops_per_sample(config, mean_length)
    achieved = rate * train_flops / 1e9
    return Measurement(
        model=name, variant=variant, batch_size=batch_size, optimizer=args.optimizer,
        parameters=sum(p.numel() for p in model.parameters()), steps=steps,
        samples_per_s=rate, samples_per_s_runs=tuple(runs), epoch_s=EPOCH_SAMPLES / rate,
        train_gflop_per_sample=train_flops / 1e9, achieved_gflops=achieved, share_of_fp32_peak=achieved / fp32_peak,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["bow", "lstm"], choices=["bow", "lstm"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop", "sgd"])
    parser.add_argument("--samples", type=int, default=8192, help="samples timed per repeat (whole steps)")
    parser.add_argument("--min-steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    args = parser.parse_args()

    peaks = {"float32": matmul_peak_gflops(torch.float32), "bfloat16": matmul_peak_gflops(torch.bfloat16)}
    fp32_peak = max(peaks["float32"].values())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_model()}")
    for dtype, found in peaks.items():
        print(f"{dtype} matmul peak (torch.mm, median of 5): "
              + ", ".join(f"{n}x{n} {g:.1f} GFLOP/s" for n, g in found.items()))
    print(f"epoch = {EPOCH_SAMPLES:,} samples, extrapolated from ~{args.samples} timed samples x {args.repeats} "
          f"repeats after {args.warmup} warm-up steps; optimizer {args.optimizer} (lr 1e-3), cross-entropy")
    measurements = []
    for name in args.models:
        ref = REFERENCES[name]
        print(f"{name}: target <= {ref['target_s']} s/epoch; original report {ref['original_report_s']} s, "
              f"avisingh599/visual-qa on an i7 {ref['avisingh599_i7_s']} s")
        for variant in args.variants:
            for batch_size in args.batch_sizes:
                m = measure(name, variant, batch_size, args, fp32_peak)
                measurements.append(m)
                print(
                    f"  {variant:<10} batch {batch_size:>4}: {m.samples_per_s:6.0f} samples/s -> "
                    f"{m.epoch_s:5.0f} s/epoch; {m.train_gflop_per_sample * 1e3:.1f} MFLOP/sample, "
                    f"{m.achieved_gflops:.1f} GFLOP/s = {100 * m.share_of_fp32_peak:.0f}% of the fp32 peak "
                    f"(runs: {', '.join(f'{r:.0f}' for r in m.samples_per_s_runs)} samples/s)",
                    flush=True,
                )
    if args.json:
        record = {
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_model(),
            "matmul_peak_gflops": peaks, "epoch_samples": EPOCH_SAMPLES, "samples_per_repeat": args.samples,
            "warmup": args.warmup, "repeats": args.repeats, "references_s": REFERENCES,
            "measurements": [asdict(m) for m in measurements],
        }
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    sys.exit(main())
