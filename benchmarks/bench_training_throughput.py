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

Each model is timed in each precision (``--precisions``; default: those the device runs --
fp32 and bf16 on a CPU, also fp16 on CUDA), with the routine's optimiser (``make_optimizer``:
Adam's fused kernel) and the forward pass and loss under ``engine/precision.py``'s autocast, as
``python -m training.vqa --precision P`` runs them; the precision ``--precision auto`` picks
on this device is marked, and it is the one the targets (issue 15: ``bow`` <= 60 s,
``lstm`` <= 120 s an epoch on a 2-core CPU with AMX) are read against. ``--unfused`` adds
torch's default Adam (the for-each kernel) in fp32, to show what the fused kernel gains.

Each configuration runs ``--warmup`` untimed steps, then about ``--samples``
samples of timed steps (forward, cross-entropy, backward, gradient clipping, optimiser step),
``--repeats`` times; the epoch time is 215,000 / the median samples per second
-- an extrapolation from the timed steps, not a full epoch. The matmul peak **of the
precision used** is measured in the same run (``machine.matmul_peak``, same threads), and the
models' useful work is counted analytically: the matmul FLOPs of a forward pass (Linear
layers and LSTM gates at the sampled mean question length; embeddings, element-wise ops and
the optimiser not counted), x3 for forward + backward. Samples per CPU-second (this process, all
its threads) are printed too: with ``--threads 1`` they measure the work itself and move far
less than the wall clock on a shared machine (with more threads, OpenMP's waiting threads
count as well). Run from the repository root
(``--quick``: batch 512 only, ~2,048 samples, one repeat)::

    python benchmarks/bench_training_throughput.py [--quick] [--models bow lstm] [--precisions fp32 bf16]
        [--batch-sizes 128 512] [--samples 8192] [--repeats 3] [--optimizer adam] [--unfused]
        [--device cpu|cuda] [--threads N] [--json OUT.json]
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
from machine import cpu_model, matmul_peak  # benchmarks/machine.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vqadesk, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))  # machine.py beside it

from vqadesk.engine.precision import autocast, resolve_precision
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

# Seconds per epoch: the original report, avisingh599/visual-qa (i7 CPU), and this project's
# targets (issue 15, with the auto precision on a 2-core CPU with AMX bf16).
REFERENCES = {
    "bow": {"original_report_s": 2190, "avisingh599_i7_s": 900, "target_s": 60},
    "lstm": {"original_report_s": 3780, "avisingh599_i7_s": 1900, "target_s": 120},
}
GRAD_CLIP = TrainingConfig.grad_clip
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


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


def timed_steps(model, optimizer, scaler, pool, batches, *, precision: str, device) -> float:
    """Seconds for the training steps over ``batches`` (the features gathered per batch, as a loader would)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for rows, questions, lengths, answers in batches:
        features = pool[rows.to(pool.device)]  # (B, 4096)
        with autocast(precision, device):
            logits = model(features, questions, lengths).logits  # (B, 1000)
            loss = F.cross_entropy(logits.float(), answers)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)  # the routine's default --grad-clip
        scaler.step(optimizer)
        scaler.update()
    sync()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Measurement:
    model: str
    precision: str
    optimizer_kernel: str  # fused (the routine's) or for-each (torch's default Adam)
    batch_size: int
    optimizer: str
    parameters: int
    steps: int  # timed steps per repeat
    samples_per_s: float  # median of the repeats
    samples_per_s_runs: tuple[float, ...]
    samples_per_cpu_s: float  # samples per CPU-second of this process (all its threads), median of the repeats
    epoch_s: float  # EPOCH_SAMPLES / samples_per_s
    train_gflop_per_sample: float  # 3 x forward matmul FLOPs
    achieved_gflops: float
    matmul_peak_gflops: float  # of this precision, measured in this run
    share_of_peak: float


def measure(name: str, precision: str, fused: bool, batch_size: int, args, peak: float) -> Measurement:
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    config = model_config(name)
    model = build_vqa_model(config).train().to(device)
    if not fused:
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, fused=False)
    else:  # the training routine's own optimiser, with its defaults (lr 1e-3, SGD momentum 0.9)
        training = TrainingConfig(task=ModelKind.VQA, data="-", out="-", model=name, optimizer=args.optimizer)
        optimizer = make_optimizer(training, model.parameters())
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    steps = max(args.min_steps, math.ceil(args.samples / batch_size))
    pool, batches, mean_length = synthetic_data(args.seed, batch_size, steps + args.warmup)
    pool = pool.to(device)
    batches = [(r, q.to(device), n, a.to(device)) for r, q, n, a in batches]
    run = lambda part: timed_steps(model, optimizer, scaler, pool, part, precision=precision, device=device)  # noqa: E731
    run(batches[: args.warmup])
    runs, cpu_runs = [], []
    for _ in range(args.repeats):
        cpu_started = time.process_time()  # this process's CPU time: steadier than the wall clock when shared
        runs.append(steps * batch_size / run(batches[args.warmup :]))
        cpu_runs.append(steps * batch_size / (time.process_time() - cpu_started))
    rate = statistics.median(runs)
    train_flops = 3 * forward_flops_per_sample(config, mean_length)
    achieved = rate * train_flops / 1e9
    return Measurement(
        model=name, precision=precision, optimizer_kernel="fused" if fused else "for-each", batch_size=batch_size,
        optimizer=args.optimizer, parameters=sum(p.numel() for p in model.parameters()), steps=steps,
        samples_per_s=rate, samples_per_s_runs=tuple(runs), samples_per_cpu_s=statistics.median(cpu_runs),
        epoch_s=EPOCH_SAMPLES / rate,
        train_gflop_per_sample=train_flops / 1e9, achieved_gflops=achieved, matmul_peak_gflops=peak,
        share_of_peak=achieved / peak,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 512 only, ~2,048 samples, one repeat")
    parser.add_argument("--models", nargs="+", default=["bow", "lstm"], choices=["bow", "lstm"])
    parser.add_argument("--precisions", nargs="+", choices=tuple(DTYPES), help="default: what the device runs")
    parser.add_argument("--unfused", action="store_true", help="also torch's default (for-each) Adam in fp32")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop", "sgd"])
    parser.add_argument("--samples", type=int, default=8192, help="samples timed per repeat (whole steps)")
    parser.add_argument("--min-steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.batch_sizes, args.samples, args.repeats, args.min_steps = [512], 2048, 1, 4
    device = torch.device(args.device)
    precisions = args.precisions or (["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"])
    auto = resolve_precision("auto", device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_model()}, device {device}; "
          f"--precision auto resolves to {auto} here")
    peaks = {p: matmul_peak(DTYPES[p], device=args.device) for p in sorted(set(precisions) | {"fp32"})}
    print("matmul peaks (torch.mm, machine.matmul_peak): "
          + ", ".join(f"{p} {g:,.0f} GFLOP/s" for p, g in peaks.items()))
    print(f"epoch = {EPOCH_SAMPLES:,} samples, extrapolated from ~{args.samples} timed samples x {args.repeats} "
          f"repeats after {args.warmup} warm-up steps; optimizer {args.optimizer} (lr 1e-3), cross-entropy")
    configurations = [(p, True) for p in precisions] + ([("fp32", False)] if args.unfused else [])
    measurements = []
    for name in args.models:
        ref = REFERENCES[name]
        print(f"{name}: target <= {ref['target_s']} s/epoch with auto ({auto}); original report "
              f"{ref['original_report_s']} s, avisingh599/visual-qa on an i7 {ref['avisingh599_i7_s']} s")
        for precision, fused in configurations:
            label = f"{precision}{' (auto)' if precision == auto and fused else ''}{'' if fused else ' for-each Adam'}"
            for batch_size in args.batch_sizes:
                m = measure(name, precision, fused, batch_size, args, peaks[precision])
                measurements.append(m)
                print(
                    f"  {label:<18} batch {batch_size:>4}: {m.samples_per_s:6.0f} samples/s -> "
                    f"{m.epoch_s:5.0f} s/epoch; {m.train_gflop_per_sample * 1e3:.1f} MFLOP/sample, "
                    f"{m.achieved_gflops:.1f} GFLOP/s = {100 * m.share_of_peak:.0f}% of the {precision} peak "
                    f"(runs: {', '.join(f'{r:.0f}' for r in m.samples_per_s_runs)} samples/s; "
                    f"{m.samples_per_cpu_s:.0f} samples per CPU-second)",
                    flush=True,
                )
    if args.json:
        record = {
            "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_model(), "device": str(device),
            "auto": auto, "matmul_peak_gflops": peaks, "epoch_samples": EPOCH_SAMPLES,
            "samples_per_repeat": args.samples, "warmup": args.warmup, "repeats": args.repeats,
            "references_s": REFERENCES, "measurements": [asdict(m) for m in measurements],
        }
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    from machine import print_machine  # benchmarks/machine.py

    print_machine()
    sys.exit(main())
