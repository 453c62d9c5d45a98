"""``torch.compile`` against eager PyTorch on this project's two hot paths, on the CPU.

Issue 15 allows ``torch.compile`` only where it measures faster, compile time included, and
never on the app's start-up path. This measures both sides of that trade for:

1. **extraction**: the extraction network as ``training.extract_features`` builds it (ResNet-50
   from torchvision, ``--weights none``, grid layer, 224 px), batch ``--batch-size`` (16) of real
   fixture photos, channels_last weights and input, under ``torch.inference_mode`` and
   ``engine/precision.py``'s autocast, for ``--precision auto`` resolved here and for fp32;
2. **training**: one training step of the report's ``bow`` and ``lstm`` VQA models at seed scale,
   built, fed and stepped by ``bench_training_throughput.py``'s builders (synthetic batches of the
   report's shapes, the routine's fused Adam, autocast, gradient clipping), batch 512.

Each compile mode (``--modes``: ``default``, ``max-autotune-no-cudagraphs``) runs in **its own
process with a fresh, empty inductor cache** (a user's first run; a cached second run compiles
faster), under ``--timeout`` seconds, beside the same module run eagerly. Reported:

* **first call**: seconds of the first batch or step, eager and compiled (eager: allocations and
  kernel choice; compiled: tracing and compiling, forward and backward); the **compile cost** is
  their difference;
* **steady rate**: images or samples per second, eager and compiled, the median of ``--batches``
  calls each after ``--warmup`` untimed ones, **alternated** call by call so both see the same
  load; also per CPU-second of the process (all its threads);
* **break-even**: compile cost / per-item saving (1/eager rate - 1/compiled rate), the number of
  images or samples after which the compiled run is ahead; ``never`` where compiled is not faster.
  Compare it with a realistic run: a few hundred photos for extraction, an epoch (215,000
  samples) for training.

A compile that fails or times out is recorded with its last error line: that is a finding too.
Wall-clock figures: on a shared machine only their order means something (the load average is
printed before and after). Run from the repository root (``--quick``: 3 timed batches after 1
warm-up, the auto precision only for training, ``max-autotune-no-cudagraphs`` only for the auto
precision, 300 s a configuration)::

    python benchmarks/bench_compile.py [--quick] [--parts extraction training] [--models bow lstm]
        [--modes default max-autotune-no-cudagraphs] [--batches 5] [--warmup 2] [--timeout 900]
        [--threads N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's vqadesk, installed or not
sys.path.insert(0, str(HERE))  # the other benchmarks beside it
MODES = ("default", "max-autotune-no-cudagraphs")
EPOCH_SAMPLES = 215_000  # bench_training_throughput.EPOCH_SAMPLES: VQA v1 train
TRAIN_BATCH = 512
REALISTIC = {"extraction": 300, "training": EPOCH_SAMPLES}  # a few hundred photos; one seed-scale epoch


def paired(eager, compiled, size: int, job: dict) -> dict:
    """First calls, then eager and compiled calls alternated (both see the same load), medians of each."""
    found = {}
    for name, call in (("eager", eager), ("compiled", compiled)):
        started = time.perf_counter()
        call()
        found[f"{name}_first_s"] = time.perf_counter() - started
    for _ in range(job["warmup"]):
        eager(), compiled()
    wall, cpu = {"eager": [], "compiled": []}, {"eager": [], "compiled": []}
    for i in range(job["batches"]):
        for name, call in ((("eager", eager), ("compiled", compiled)) if i % 2 == 0
                           else (("compiled", compiled), ("eager", eager))):
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
    for name in wall:
        found[f"{name}_rate"] = size / statistics.median(wall[name])
        found[f"{name}_cpu_rate"] = size / statistics.median(cpu[name])  # items per CPU-second, all threads
    return found


def run_extraction(job: dict) -> dict:
    import torch
    from bench_extract_features import build_network, photo_files

    from vqadesk.engine.image_tensors import load_image_tensor
    from vqadesk.engine.precision import autocast

    device = torch.device("cpu")
    encoder, memory_format = build_network(device, "channels_last")
    photos = photo_files()
    size = job["batch_size"]
    pixels = torch.stack([load_image_tensor(photos[i % len(photos)], 224, draft=True) for i in range(size)])
    pixels = pixels.contiguous(memory_format=memory_format)
    compiled = torch.compile(encoder, mode=job["mode"])
    with torch.inference_mode(), autocast(job["precision"], device):
        return paired(lambda: encoder(encoder.prepare(pixels)).float(),
                      lambda: compiled(encoder.prepare(pixels)).float(), size, job)


def run_training(job: dict) -> dict:
    import itertools

    import torch
    from bench_training_throughput import model_config, synthetic_data, timed_steps

    from vqadesk.engine.torch_free.model_kind import ModelKind
    from vqadesk.engine.torch_free.training_config import TrainingConfig
    from vqadesk.engine.training.trainer import make_optimizer
    from vqadesk.models import build_vqa_model

    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_vqa_model(model_config(job["model"])).train()
    config = TrainingConfig(task=ModelKind.VQA, data="-", out="-", model=job["model"])
    optimizer = make_optimizer(config, model.parameters())  # the routine's: fused Adam
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    compiled = torch.compile(model, mode=job["mode"])  # what a trainer option would wrap; the step stays eager
    size = job["batch_size"]
    pool, batches, _ = synthetic_data(0, size, 8)  # questions of varying lengths, as an epoch's batches

    def stepper(module):
        feed = itertools.cycle(batches)
        return lambda: timed_steps(module, optimizer, scaler, pool, [next(feed)], precision=job["precision"],
                                   device=device)  # one step; clipping reads the same parameters either way

    return paired(stepper(model), stepper(compiled), size, job)


def child(job: dict) -> None:
    """One compile mode against eager, in this fresh process; prints the result as the last line."""
    import torch

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    result = (run_extraction if job["part"] == "extraction" else run_training)(job)
    from torch._dynamo.utils import counters

    result["graphs"] = int(counters["stats"].get("unique_graphs", 0))
    result["graph_breaks"] = int(sum(counters["graph_break"].values()))
    print(json.dumps(result), flush=True)


def measure(job: dict, timeout: float) -> dict:
    """``job`` in a child process with an empty inductor cache: its result, or the error that stopped it."""
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TRITON_CACHE_DIR": cache}
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {timeout:.0f} s (compile included)"}
        wall = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line or "error" in line]
        return {"error": (errors or lines or [f"exit {done.returncode}"])[-1].strip()[:400]}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_s": wall}


def break_even(found: dict) -> dict:
    """The compile cost and the number of items after which the compiled run is ahead (None: never)."""
    cost = found["compiled_first_s"] - found["eager_first_s"]
    saving = 1 / found["eager_rate"] - 1 / found["compiled_rate"]  # seconds per item
    return {"compile_cost_s": cost, "speedup": found["compiled_rate"] / found["eager_rate"],
            "cpu_speedup": found["compiled_cpu_rate"] / found["eager_cpu_rate"],
            "break_even_items": max(0.0, cost / saving) if saving > 0 else None}


def jobs(args, auto: str) -> list[dict]:
    common = {"warmup": args.warmup, "batches": args.batches, "threads": args.threads}
    listed = []
    if "extraction" in args.parts:
        for precision in dict.fromkeys([auto, "fp32"]):
            for mode in args.modes:
                if not (args.quick and mode == MODES[1] and precision != auto):
                    listed.append({"part": "extraction", "model": "resnet50", "precision": precision, "mode": mode,
                                   "batch_size": args.batch_size, **common})
    if "training" in args.parts:
        for model in args.models:
            for precision in dict.fromkeys([auto] if args.quick else [auto, "fp32"]):
                for mode in args.modes:
                    listed.append({"part": "training", "model": model, "precision": precision, "mode": mode,
                                   "batch_size": TRAIN_BATCH, **common})
    return listed


def report(job: dict, found: dict) -> str:
    unit = "images" if job["part"] == "extraction" else "samples"
    label = f"{job['part']:<10} {job['model']:<8} {job['precision']:<4} {job['mode']:<26}"
    if "error" in found:
        return f"{label} FAILED: {found['error']}"
    items = found["break_even_items"]
    return (f"{label} first call eager {found['eager_first_s']:5.1f} s, compiled {found['compiled_first_s']:5.1f} s; "
            f"steady eager {found['eager_rate']:7.1f}, compiled {found['compiled_rate']:7.1f} {unit}/s "
            f"(x{found['speedup']:.2f}; per CPU-second x{found['cpu_speedup']:.2f}); "
            f"{found['graphs']} graphs, {found['graph_breaks']} graph breaks; break-even "
            + (f"{items:,.0f} {unit}" if items is not None else "never (not faster)")
            + f" (a realistic run: {REALISTIC[job['part']]:,})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed calls, 1 warm-up, fewer runs, 300 s each")
    parser.add_argument("--parts", nargs="+", default=["extraction", "training"], choices=["extraction", "training"])
    parser.add_argument("--models", nargs="+", default=["bow", "lstm"], choices=["bow", "lstm"])
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES, help="compile modes beside eager")
    parser.add_argument("--batch-size", type=int, default=16, help="extraction batch")
    parser.add_argument("--batches", type=int, default=5, help="timed calls")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls after the first")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a configuration, compile included")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    if args.quick:
        args.batches, args.warmup, args.timeout = 3, 1, min(args.timeout, 300)

    import torch

    from vqadesk.engine.precision import resolve_precision

    auto = resolve_precision("auto", torch.device("cpu"))
    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; --precision auto resolves to {auto} here; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    for job in jobs(args, auto):
        found = measure(job, args.timeout)
        if "error" not in found:
            found.update(break_even(found))
        print(report(job, found), flush=True)
        results.append({**job, **found})
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if args.json:
        from machine import describe

        Path(args.json).write_text(json.dumps({"machine": describe(), "torch": torch.__version__, "threads": threads,
                                               "auto": auto, "realistic_items": REALISTIC, "results": results},
                                              indent=1))
    return 0


if __name__ == "__main__":
    if "--child" not in sys.argv:
        from machine import print_machine  # benchmarks/machine.py

        print_machine()
    sys.exit(main())
