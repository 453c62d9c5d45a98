"""The models a long-lived program keeps loaded: the desktop app's inference worker owns one.

Qt-free, so the app's worker, tests and scripts share it.

* The **active** VQA model and captioner live in one ``Predictor`` (the Ask
  and Caption panels use them).
* **Other VQA models** -- the Compare panel's choices, the Training tab's
  probe checkpoints -- each get a Predictor of their own, kept in a small
  LRU (``max_other``) so comparing three models does not reload them on
  every question, and memory stays bounded.

Every model is named as ``model_registry.resolve_model`` accepts (a bundled
or user model name, or a checkpoint path), or as a pretrained transformers
model (``hf:ORG/NAME[@REVISION]`` or a model folder); a checkpoint that was
rewritten on disk (a training run's ``best`` after a new epoch) is reloaded,
because the key includes the file's modification time and size (for a
pretrained model, its weights file's).

What it reports (``LoadedModels``, ``ComparedAnswer``) is defined in the
torch-free ``pool_records.py``, so the desktop app's GUI process can read it;
its public methods are declared, also without torch, by ``pool_api.PoolApi``,
which the GUI process's jobs name (``Job(PoolApi.ask, ...)``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence

from vqadesk.engine.inference.predictor import ImageInput, NoModelError, Predictor
from vqadesk.engine.precision import PrecisionError, settle_precision
from vqadesk.engine.torch_free.hub.references import SAFETENSORS_INDEX, SAFETENSORS_WEIGHTS, resolve_pretrained
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import DEFAULT_CAPTIONER_NAME, DEFAULT_VQA_NAME, resolve_model
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.engine.torch_free.pool_records import ComparedAnswer, LoadedModels
from vqadesk.engine.torch_free.predictions import CaptionPrediction, VqaPrediction
from vqadesk.errors import VqadeskError

DEFAULT_MAX_OTHER = 4


class ModelPool(PoolApi):
    """The active VQA model + captioner, and an LRU of other VQA models, on one device.

    ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) is every model's arithmetic; ``loaded()``
    reports it resolved for the device (the app's status bar shows it).
    """

    def __init__(self, device: str = "auto", *, max_other: int = DEFAULT_MAX_OTHER, precision: str = "auto"):
        self.predictor = Predictor(vqa=None, captioner=None, device=device, precision=precision)
        self.device = self.predictor.device
        self.precision = precision
        self._others: OrderedDict[tuple, Predictor] = OrderedDict()
        self._max_other = max_other
        self._vqa_key: tuple | None = None
        self._failures: dict[ModelKind, str] = {}  # why each kind's last load failed

    # -- the active models -------------------------------------------------------------------

    def load_vqa(self, name_or_path: str | os.PathLike[str] | None = DEFAULT_VQA_NAME) -> LoadedModels:
        self._load(ModelKind.VQA, self.predictor.load_vqa, name_or_path)
        self._vqa_key = None if name_or_path is None else _model_key(name_or_path)
        return self.loaded()

    def load_captioner(
        self, name_or_path: str | os.PathLike[str] | None = DEFAULT_CAPTIONER_NAME
    ) -> LoadedModels:
        self._load(ModelKind.CAPTIONING, self.predictor.load_captioner, name_or_path)
        return self.loaded()

    def _load(self, kind: ModelKind, load: Callable[[object], None], name_or_path) -> None:
        """``load(name_or_path)``, remembering why it failed (``_require`` says it)."""
        self._failures.pop(kind, None)
        try:
            load(name_or_path)
        except VqadeskError as exc:
            self._failures[kind] = str(exc)
            raise

    def loaded(self) -> LoadedModels:
        return LoadedModels(
            vqa=self.predictor.vqa_model,
            captioner=self.predictor.captioner_model,
            device=self.predictor.device_description,
            vqa_path=self.predictor.vqa_path,
            captioner_path=self.predictor.captioner_path,
            precision=self._resolved_precision(),
        )

    def _resolved_precision(self) -> str:
        try:
            return settle_precision(self.precision, self.device)
        except PrecisionError:  # e.g. fp16 on a CPU: every load says why; show what was asked
            return self.precision

    def ask(self, image: ImageInput, question: str, top_k: int = 5) -> VqaPrediction:
        self._require(ModelKind.VQA)
        return self.predictor.ask(image, question, top_k=top_k)

    def ask_many(
        self, images: Sequence[ImageInput], questions: Sequence[str], top_k: int = 5
    ) -> list[VqaPrediction]:
        """One answer per (image, question) pair, in one batch (the Batch tab's chunks)."""
        self._require(ModelKind.VQA)
        return self.predictor.ask_many(images, questions, top_k=top_k)

    def caption(self, image: ImageInput, beam_size: int = 3, num_captions: int = 1) -> CaptionPrediction:
        self._require(ModelKind.CAPTIONING)
        return self.predictor.caption(image, beam_size=beam_size, num_captions=num_captions)

    def caption_many(
        self, images: Sequence[ImageInput], beam_size: int = 3, num_captions: int = 1
    ) -> list[CaptionPrediction]:
        self._require(ModelKind.CAPTIONING)
        return self.predictor.caption_many(images, beam_size=beam_size, num_captions=num_captions)

    def _require(self, kind: ModelKind) -> None:
        loaded = self.predictor.vqa_model if kind is ModelKind.VQA else self.predictor.captioner_model
        if loaded is None:
            failure = self._failures.get(kind)
            why = f" (loading it failed: {failure})" if failure else ""
            raise NoModelError(f"no {kind.noun} is loaded{why}; choose one in the Models tab")

    # -- any VQA model -----------------------------------------------------------------------

    def ask_with(
        self, model: str | os.PathLike[str], image: ImageInput, question: str, top_k: int = 5
    ) -> VqaPrediction:
        """``question`` answered by ``model`` (the active one when it names the same file)."""
        return self._vqa_predictor(model).ask(image, question, top_k=top_k)

    def compare(
        self, models: Sequence[str | os.PathLike[str]], image: ImageInput, question: str, top_k: int = 5
    ) -> list[ComparedAnswer]:
        """Each model's answer to one question; a model that fails reports why, the others still answer."""
        answers = []
        for model in models:
            try:
                answers.append(ComparedAnswer(str(model), self.ask_with(model, image, question, top_k), None))
            except VqadeskError as exc:
                answers.append(ComparedAnswer(str(model), None, str(exc)))
        return answers

    def _vqa_predictor(self, model: str | os.PathLike[str]) -> Predictor:
        key = _model_key(model)
        if key == self._vqa_key and self.predictor.vqa_model is not None:
            return self.predictor
        predictor = self._others.get(key)
        if predictor is None:
            predictor = Predictor(vqa=None, captioner=None, device=self.device, precision=self.precision)
            predictor.load_vqa(model)  # raises (and caches nothing) when the model cannot load
            self._others[key] = predictor
            while len(self._others) > self._max_other:
                self._others.popitem(last=False)
        self._others.move_to_end(key)
        return predictor


def _model_key(model: str | os.PathLike[str]) -> tuple:
    """The checkpoint file a model name means, with its size and time: a rewritten file is a new model.

    A pretrained model is its folder's weights file (``hf:`` names: the cached snapshot's), so the
    ``hf:`` name and its snapshot folder are one model, and a folder whose weights were replaced
    is a new one.
    """
    source = resolve_pretrained(model, ModelKind.VQA)
    if source is not None:
        weights = source.folder / SAFETENSORS_WEIGHTS
        path = weights if weights.is_file() else source.folder / SAFETENSORS_INDEX
    else:
        path = resolve_model(model, ModelKind.VQA)
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)  # loading will report the missing file
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
