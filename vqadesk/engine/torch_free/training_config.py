"""What a training run is asked to do: one frozen dataclass, and its command line.

``TrainingConfig`` is what the training loop reads, what the ``start`` event
reports and what checkpoints record (``to_dict``), so a run can be resumed or
reproduced from its checkpoint alone. ``add_training_arguments`` /
``config_from_args`` are shared by ``python -m training.vqa`` and
``python -m training.captioning`` so both routines take the same options.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError

TASKS = tuple(kind.value for kind in ModelKind)
VQA_MODELS = ("bow", "lstm", "attention")
CAPTION_CELLS = ("lstm", "rnn")
OPTIMIZERS = ("sgd", "rmsprop", "adam")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # see engine/precision.py
SCHEDULES = ("none", "step", "cosine", "plateau")
DEVICES_HELP = "auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps"


class TrainingConfigError(VqadeskError):
    """An option value that cannot work (e.g. a negative learning rate)."""


@dataclass(frozen=True)
class TrainingConfig:
    task: str
    data: str
    out: str
    train_split: str = "train"
    val_split: str = "val"
    model: str = "attention"  # VQA: bow | lstm | attention; captioning: lstm | rnn (the cell)
    question_encoder: str = "lstm"  # VQA lstm/attention models: lstm | transformer
    attention: bool = True  # captioning: soft attention over the grid
    image_encoder: str = "small_cnn"
    image_size: int = 128
    weights: str = "none"
    freeze_encoder: bool = False
    embed_dim: int = 128
    hidden_dim: int = 256
    epochs: int = 10
    batch_size: int = 32  # images per batch (see engine/training/image_groups.py)
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    dropout: float = 0.2
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False  # a fresh run may replace the checkpoints of an old run in --out
    overfit: int | None = None
    max_steps: int | None = None
    patience: int = 5
    target: str = "soft"  # VQA: soft scores min(#humans/3, 1) | single most common answer
    # VQA: weight of the attention grounding loss where the data name each question's
    # objects (engine/training/grounding.py); 0 turns it off.
    grounding_weight: float = 1.0
    top_k: int = 1000
    max_len: int = 24  # question or caption length in tokens
    beam_size: int = 3  # captioning validation decoding
    log_interval_s: float = 2.0
    threads: int | None = None  # torch CPU threads (None: torch's default)
    # The forward pass under autocast: auto | fp32 (off) | bf16 | fp16 (CUDA, with loss scaling). The
    # trainer replaces auto by what it resolved, so the start event and checkpoints record that.
    precision: str = "auto"
    # Real data (docs/real-data.md): a feature store replaces the image encoder, and files
    # given here replace those found in --data by their official names.
    features: str | None = None  # feature store of the training images (and validation, by default)
    val_features: str | None = None
    questions: str | None = None  # VQA v2 files of the training split
    annotations: str | None = None
    val_questions: str | None = None
    val_annotations: str | None = None
    captions: str | None = None  # COCO captions files
    val_captions: str | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.task in TASKS, f"task must be one of {', '.join(TASKS)}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}"),
            (self.target in ("soft", "single"), "--target must be soft or single"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight-decay cannot be negative"),
            (self.grad_clip >= 0, "--grad-clip cannot be negative (0 turns clipping off)"),
            (self.overfit is None or self.overfit >= 1, "--overfit must be at least 1"),
            (not (self.resume and self.overwrite), "--resume and --overwrite contradict each other: choose one"),
            (self.max_steps is None or self.max_steps >= 1, "--max-steps must be at least 1"),
            (self.patience >= 1, "--patience must be at least 1"),
            (self.top_k >= 2, "--top-k must be at least 2"),
            (self.grounding_weight >= 0, "--grounding-weight cannot be negative (0 turns it off)"),
            (self.max_len >= 3, "--max-len must be at least 3"),
            (self.beam_size >= 1, "--beam-size must be at least 1"),
            (self.image_size >= 16, "--image-size must be at least 16"),
            (self.embed_dim >= 1 and self.hidden_dim >= 1, "--embed-dim and --hidden-dim must be positive"),
            (self.threads is None or self.threads >= 1, "--threads must be at least 1"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
            (self.val_features is None or self.features is not None, "--val-features needs --features"),
            (self.features is None or (self.image_encoder == "small_cnn" and self.weights == "none"
                                       and not self.freeze_encoder),
             "--features gives the image features: drop --image-encoder, --weights and --freeze-encoder "
             "(the store records the backbone that made them)"),
        ]
        if self.task == ModelKind.VQA:
            checks.append((self.model in VQA_MODELS, f"--model must be one of {', '.join(VQA_MODELS)}"))
            checks.append((self.question_encoder in ("lstm", "transformer"),
                           "--question-encoder must be lstm or transformer"))
        else:
            checks.append((self.model in CAPTION_CELLS, f"--model must be one of {', '.join(CAPTION_CELLS)}"))
        for ok, message in checks:
            if not ok:
                raise TrainingConfigError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        # A run recorded before the option existed trained without grounding.
        values.setdefault("grounding_weight", 0.0)
        return cls(**values)


def add_training_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """The options both routines share (docs/training.md)."""
    vqa = task == ModelKind.VQA
    add = parser.add_argument
    add("--data", required=True, metavar="DIR", help="dataset root (as written by `vqadesk shapes`)")
    add("--out", required=True, metavar="DIR", help="folder for checkpoints (last, best) and the run log")
    add("--train-split", default="train", metavar="NAME")
    add("--val-split", default="val", metavar="NAME")
    if vqa:
        add("--model", default="attention", choices=VQA_MODELS, help="VQA model (default: attention)")
        add("--question-encoder", default="lstm", choices=("lstm", "transformer"))
        add("--target", default="soft", choices=("soft", "single"),
            help="soft: every human answer weighted min(#humans/3, 1); single: the most common answer")
        add("--top-k", type=int, default=1000, help="answer vocabulary size (default 1000)")
        add("--grounding-weight", type=float, default=1.0, metavar="W",
            help="attention model: weight of the loss that points each glimpse at the objects the "
            "question names, where the data say which (the Shapes world's vqa/shapes_<split>_grounding.json); "
            "0: off (default 1.0)")
    else:
        add("--model", default="lstm", choices=CAPTION_CELLS, help="decoder cell (default: lstm)")
        add("--no-attention", dest="attention", action="store_false",
            help="mean image feature instead of soft attention")
        add("--beam-size", type=int, default=3, help="beam size for validation captions")
    add("--image-encoder", default="small_cnn", choices=("small_cnn", "vgg16", "resnet50", "resnet152"))
    add("--image-size", type=int, default=128)
    add("--weights", default="none", metavar="none|imagenet|PATH", help="image encoder weights")
    add("--freeze-encoder", action="store_true", help="keep the image encoder fixed (precomputed features)")
    add("--embed-dim", type=int, default=128)
    add("--hidden-dim", type=int, default=256)
    # Questions are short; Shapes captions name every object (up to 34 words).
    max_len = 20 if vqa else 36
    add("--max-len", type=int, default=max_len, help=f"maximum {'question' if vqa else 'caption'} "
        f"length in tokens, <start>/<end> included (default {max_len})")
    add("--epochs", type=int, default=10)
    add("--batch-size", type=int, default=32,
        help="images per batch; each brings all its questions / captions (default 32)")
    add("--lr", type=float, default=1e-3)
    add("--optimizer", default="adam", choices=OPTIMIZERS)
    add("--weight-decay", type=float, default=0.0)
    add("--lr-schedule", default="cosine", choices=SCHEDULES)
    add("--dropout", type=float, default=0.2)
    add("--grad-clip", type=float, default=5.0, help="clip the gradient norm (0: off)")
    add("--seed", type=int, default=0)
    add("--device", default="auto", help=DEVICES_HELP)
    add("--resume", action="store_true", help="continue exactly where the `last` checkpoint in --out stopped")
    add("--overwrite", action="store_true",
        help="start afresh in an --out that holds another run's checkpoints, deleting them")
    add("--overfit", type=int, metavar="N", help="train on the first N examples only (sanity check)")
    add("--max-steps", type=int, metavar="N", help="stop after N optimisation steps")
    add("--patience", type=int, default=5, help="early stopping: epochs without validation improvement")
    add("--threads", type=int, metavar="N",
        help="CPU threads for torch (default: torch's choice); 1 is fastest for the small "
        "Shapes models on a busy 2-core machine (see docs/training.md)")
    add("--precision", default="auto", choices=PRECISIONS,
        help="arithmetic of the forward pass: auto (default: bf16 on CPUs with AVX512-BF16/AMX and on CUDA "
        "GPUs with bf16, fp16 with loss scaling on older GPUs, else fp32), fp32 (exact reproducibility), bf16, "
        "fp16 (CUDA, with loss scaling); weights, optimiser and metrics stay float32; a resumed run keeps "
        "the precision it started in")
    add("--log-interval", dest="log_interval_s", type=float, default=2.0, metavar="SECONDS",
        help="at most this long between step events")
    real = parser.add_argument_group("real data (docs/real-data.md)")
    real.add_argument("--features", metavar="STORE",
                      help="a feature store (python -m training.extract_features) with the training images: "
                      "no photo is read, the model reads the stored features")
    real.add_argument("--val-features", metavar="STORE", help="the validation images' store (default: --features)")
    if vqa:
        for name, what in (("questions", "questions"), ("annotations", "annotations")):
            real.add_argument(f"--{name}", metavar="FILE",
                              help=f"the training split's VQA v2 {what} file (default: found in --data)")
            real.add_argument(f"--val-{name}", metavar="FILE", help=f"the validation split's {what} file")
    else:
        real.add_argument("--captions", metavar="FILE",
                          help="the training split's COCO captions file "
                               "(default: --data/annotations/captions_<split>.json)")
        real.add_argument("--val-captions", metavar="FILE", help="the validation split's captions file")


def config_from_args(args: argparse.Namespace, task: str) -> TrainingConfig:
    values = {f.name: getattr(args, f.name) for f in fields(TrainingConfig) if hasattr(args, f.name)}
    return TrainingConfig(task=task, **values)
