"""Where image encoder weights come from, and the one way each is read.

vqadesk never downloads weights and never unpickles a file the user points at:

* ``"imagenet"``: torchvision's official file, looked up in the local torch hub
  cache only (``torch.hub.get_dir()/checkpoints/<file name from torchvision's
  weights enum>``, e.g. ``~/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth``;
  ``$TORCH_HOME`` moves it). These files are torchvision's own pickle-based
  format, so they are read with ``torch.load(weights_only=True)``: PyTorch's
  restricted unpickler, which only rebuilds tensors and plain containers and
  refuses anything that could run code. When the file is missing the error says
  which file to put where (any of the enum's published versions is accepted,
  the newest first).
* a path: a ``.safetensors`` state dict (a flat tensor file, no code at all).
  ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt`` paths are refused with a line saying
  how to convert them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from vqadesk.errors import VqadeskError

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
_MISMATCHES_SHOWN = 3


class WeightsError(VqadeskError):
    """Encoder weights are missing, in a refused format, or do not fit the network."""


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file; anything else is a ``WeightsError``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise WeightsError(
            f"{path}: pickled PyTorch files are not loaded (unpickling can run code); convert it "
            "once with safetensors.torch.save_file(torch.load(file, weights_only=True), "
            "'weights.safetensors') and pass the .safetensors file"
        )
    if suffix != ".safetensors":
        raise WeightsError(f"{path}: weights must be 'none', 'imagenet' or a .safetensors file")
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({_first_line(exc)})") from None


def imagenet_file_candidates(weights_enum: Iterable) -> list[Path]:
    """The hub-cache paths torchvision would download the enum's files to, default first."""
    members = list(weights_enum)
    default = getattr(weights_enum, "DEFAULT", members[-1])
    ordered = [default] + [m for m in reversed(members) if m is not default]
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    # torchvision names the cached file after the URL's last path segment.
    return [folder / Path(urlparse(member.url).path).name for member in ordered]


def read_imagenet_state_dict(name: str, weights_enum: Iterable) -> tuple[dict[str, Tensor], Path]:
    """Official ImageNet weights for ``name`` from the local hub cache, and the file read."""
    candidates = imagenet_file_candidates(weights_enum)
    for path in candidates:
        if path.is_file():
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is the user's to fix
                problem = _first_line(exc)
                if problem.startswith("Weights only load failed"):
                    # torch's advice here (weights_only=False) is exactly what vqadesk never does.
                    problem = "not a plain tensor file; vqadesk does not unpickle other objects"
                raise WeightsError(f"{path}: cannot read the ImageNet weights for {name} ({problem})") from None
            if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
                raise WeightsError(f"{path}: not a state dict of tensors (expected torchvision's {name} file)")
            return dict(state), path
    wanted = candidates[0]
    url = next(m.url for m in weights_enum if wanted.name in m.url)
    raise WeightsError(
        f"ImageNet weights for {name} are not on this machine and vqadesk never downloads: "
        f"put {wanted.name} (from {url}) in {wanted.parent} (set TORCH_HOME to use another cache), "
        "or pass the path of a .safetensors state dict as the weights"
    )


def load_weights(
    module: nn.Module,
    state: Mapping[str, Tensor],
    *,
    source: str | os.PathLike[str],
    unused_prefixes: tuple[str, ...] = (),
) -> None:
    """Copy ``state`` into ``module``; keys under ``unused_prefixes`` may be absent.

    ``unused_prefixes`` are the parts of a torchvision network vqadesk drops (the
    1000-way ImageNet classifier), so a file without them is accepted too.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.startswith(unused_prefixes)]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    for problem, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
        if keys:
            shown = ", ".join(keys[:_MISMATCHES_SHOWN])
            more = f" and {len(keys) - _MISMATCHES_SHOWN} more" if len(keys) > _MISMATCHES_SHOWN else ""
            raise WeightsError(
                f"{source}: does not fit the {type(module).__name__} network "
                f"({problem} tensors: {shown}{more})"
            )
    module.load_state_dict(state, strict=False)


def _first_line(exc: Exception) -> str:
    """Torch's and safetensors' messages run over several lines; errors here are one line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
