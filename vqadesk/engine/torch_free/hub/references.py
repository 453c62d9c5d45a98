"""What ``--model hf:ORG/NAME[@REVISION]`` or ``--model path/to/folder`` means: a transformers model folder.

Two ways to name a pretrained model:

* ``hf:ORG/NAME`` or ``hf:ORG/NAME@REVISION`` -- a Hub repository, looked up in the Hugging Face
  cache only (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``, read when
  asked so a changed environment counts). Nothing is downloaded here: a model missing from the
  cache is one line naming ``vqadesk models download``. Without ``@REVISION`` the catalogue's
  pinned revision is meant (``main`` for repositories outside it).
* a folder holding ``config.json`` -- what ``save_pretrained`` writes.

The folder's ``config.json`` names the architecture, which gives the kind (``ARCHITECTURES``);
the weights must be safetensors: a folder with only pickled weights (``pytorch_model.bin``) is
refused without being opened. Torch-free: the GUI process resolves names too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.checkpoints.checkpoint_files import PICKLE_SUFFIXES
from vqadesk.engine.torch_free.hub.catalogue import default_revision
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import read_json

PREFIX = "hf:"
ARCHITECTURES: dict[str, ModelKind] = {
    "BlipForConditionalGeneration": ModelKind.CAPTIONING,
    "GitForCausalLM": ModelKind.CAPTIONING,
    "VisionEncoderDecoderModel": ModelKind.CAPTIONING,
    "ViltForQuestionAnswering": ModelKind.VQA,
    "BlipForQuestionAnswering": ModelKind.VQA,
}
SAFETENSORS_WEIGHTS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"

# ORG/NAME as the Hub allows them: letters, digits, '-', '_', '.'; no '--' or '..' runs.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REVISION = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._/-]*$")  # a branch, tag, refs/pr/N or commit


class PretrainedModelError(VqadeskError):
    """A pretrained model reference or folder vqadesk cannot use."""


class BadReferenceError(PretrainedModelError):
    """``hf:`` followed by something that is not ``ORG/NAME[@REVISION]``."""


class ModelNotDownloadedError(PretrainedModelError):
    """An ``hf:`` model that is not in the Hugging Face cache."""


class PickleOnlyModelError(PretrainedModelError):
    """A model whose weights are only pickles (``pytorch_model.bin``): never opened."""


@dataclass(frozen=True)
class HubReference:
    """``hf:ORG/NAME[@REVISION]``; ``revision`` None means the default (``default_revision``)."""

    repo_id: str
    revision: str | None = None

    @property
    def text(self) -> str:
        return f"{PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")

    @property
    def resolved_revision(self) -> str:
        """The revision meant: the one given, else the catalogue's pin, else ``main``."""
        return self.revision or default_revision(self.repo_id)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PretrainedSource:
    """A pretrained model ready to load: its folder, architecture and kind, and the name to show."""

    name: str
    folder: Path
    architecture: str
    kind: ModelKind
    reference: HubReference | None = None
    commit: str | None = None  # the snapshot's commit hash, for a model from the cache


def parse_reference(text: str | os.PathLike[str]) -> HubReference | None:
    """``HubReference`` of ``hf:ORG/NAME[@REVISION]``; None when ``text`` does not start with ``hf:``."""
    if isinstance(text, os.PathLike):
        return None
    text = str(text).strip()
    if not text.lower().startswith(PREFIX):
        return None
    body = text[len(PREFIX):]
    repo_id, _, revision = body.partition("@")
    if not _REPO_ID.match(repo_id) or "--" in repo_id or ".." in repo_id:
        raise BadReferenceError(
            f"{text!r} is not a Hugging Face model reference: expected hf:ORG/NAME or hf:ORG/NAME@REVISION"
        )
    if "@" in body and not revision.strip():
        raise BadReferenceError(f"{text!r}: nothing after '@'; give a branch, tag or commit, or leave '@' out")
    revision = revision.strip()
    if revision and (not _REVISION.match(revision) or ".." in revision):
        raise BadReferenceError(f"{text!r}: {revision!r} is not a branch, tag or commit name")
    return HubReference(repo_id=repo_id, revision=revision or None)


def cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the environment as it is now."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks for no network at all."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def repo_folder(repo_id: str) -> Path:
    """The cache folder of ``repo_id``: ``models--ORG--NAME`` (the Hub cache's own layout)."""
    return cache_dir() / ("models--" + repo_id.replace("/", "--"))


def snapshot_folder(reference: HubReference) -> tuple[Path, str] | None:
    """The cached snapshot of ``reference`` and its commit, or None when the cache lacks it.

    A revision is either a commit hash or a name (branch, tag, ``refs/pr/N``) whose commit the
    cache recorded in ``refs/<name>`` when it was downloaded.
    """
    folder = repo_folder(reference.repo_id)
    revision = reference.resolved_revision
    if _COMMIT.match(revision):
        commit = revision
    else:
        ref_file = folder / "refs" / revision
        try:
            commit = ref_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not _COMMIT.match(commit):
            return None
    snapshot = folder / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        return None
    return snapshot, commit


def is_pretrained_reference(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` is an ``hf:`` reference or a model folder rather than a checkpoint name or file.

    A path with a folder separator that is a folder counts (its checks then say what is missing);
    a bare word counts only as a folder holding ``config.json``, so ``shapes-vqa`` keeps meaning
    the bundled model even beside a folder of that name.
    """
    if not isinstance(name_or_path, os.PathLike) and str(name_or_path).strip().lower().startswith(PREFIX):
        return True
    try:
        path = Path(name_or_path).expanduser()
        if _has_separator(name_or_path):
            return path.is_dir()
        return (path / "config.json").is_file()
    except (OSError, ValueError):
        return False


def _has_separator(name_or_path: str | os.PathLike[str]) -> bool:
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in text for sep in separators) or text in (".", "..")


def resolve_pretrained(name_or_path: str | os.PathLike[str], kind: ModelKind | None = None) -> PretrainedSource | None:
    """The pretrained model ``name_or_path`` names, checked; None when it names none (a checkpoint name or file).

    ``kind`` (when given) must match the model's: a captioner given where a VQA model is wanted
    is one line saying so.
    """
    if not is_pretrained_reference(name_or_path):
        return None
    reference = parse_reference(name_or_path)
    if reference is not None:
        found = snapshot_folder(reference)
        if found is None:
            raise ModelNotDownloadedError(_not_downloaded(reference))
        folder, commit = found
        name = reference.text
    else:
        folder, commit, name = Path(name_or_path).expanduser(), None, str(name_or_path)
    architecture = read_architecture(folder, name)
    model_kind = ARCHITECTURES[architecture]
    if kind is not None and model_kind is not kind:
        raise PretrainedModelError(
            f"{name} is a {model_kind.noun} ({architecture}), not a {ModelKind(kind).noun}"
        )
    check_safetensors(folder, name)
    return PretrainedSource(
        name=name, folder=folder, architecture=architecture, kind=model_kind, reference=reference, commit=commit
    )


def read_architecture(folder: Path, name: str) -> str:
    """``config.json``'s architecture, when vqadesk supports it; else one line naming those it does."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise PretrainedModelError(
            f"{name}: no config.json in {folder}; a pretrained model folder is what transformers' "
            "save_pretrained writes (config.json, model.safetensors, processor files)"
        )
    config = read_json(config_path)
    architectures = config.get("architectures") if isinstance(config, dict) else None
    if not isinstance(architectures, list) or not architectures:
        raise PretrainedModelError(f"{config_path}: field 'architectures' is missing; {supported_sentence()}")
    architecture = architectures[0]
    if architecture not in ARCHITECTURES:
        raise PretrainedModelError(f"{name}: architecture {architecture!r} is not supported; {supported_sentence()}")
    return architecture


def check_safetensors(folder: Path, name: str) -> None:
    """Refuse a folder whose weights are not safetensors (pickles are never opened)."""
    if (folder / SAFETENSORS_WEIGHTS).is_file() or (folder / SAFETENSORS_INDEX).is_file():
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise PickleOnlyModelError(
            f"{name}: the weights are only a pickle ({', '.join(pickles)}), which vqadesk never opens "
            "because unpickling can run code; use a revision that has model.safetensors"
        )
    raise PretrainedModelError(f"{name}: no {SAFETENSORS_WEIGHTS} in {folder}")


def supported_sentence() -> str:
    by_kind = {
        kind: ", ".join(name for name, of in ARCHITECTURES.items() if of is kind) for kind in ModelKind
    }
    return (
        f"vqadesk supports captioners ({by_kind[ModelKind.CAPTIONING]}) "
        f"and VQA models ({by_kind[ModelKind.VQA]})"
    )


def _not_downloaded(reference: HubReference) -> str:
    where = repo_folder(reference.repo_id).parent
    return (
        f"{reference.text} (revision {reference.resolved_revision}) is not in the Hugging Face cache ({where}); "
        f"download it with: vqadesk models download {reference.text}"
    )
