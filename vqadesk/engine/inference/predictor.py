"""The inference engine: answer questions and write captions with trained models (Qt-free).

    predictor = Predictor()                        # the bundled shapes-vqa and shapes-captioner
    prediction = predictor.ask("scene.png", "what colour is the circle?")
    prediction.answers[0].text, prediction.answers[0].prob, prediction.attention  # (h, w)
    captions = predictor.caption("scene.png", beam_size=3, num_captions=2).captions

Models are named as ``vqadesk.engine.torch_free.model_registry`` resolves them (a
bundled or user model name, or a checkpoint path), or as pretrained transformers
models (``hf:ORG/NAME[@REVISION]`` from the Hugging Face cache, or a model folder;
``pretrained_runs.py`` runs those), and loaded on first use, or
at once with ``load_vqa`` / ``load_captioner`` (the app's inference process
does that through its ``ModelPool``, to report progress; a failed load keeps
the previous model). The Predictor runs where it is made: in the app's
inference process, or in the CLI's own process. The device is ``pick_device(device)``: CUDA, else MPS, else
the CPU for ``"auto"``.

Images are read exactly as training read them: ``load_image`` (upright, RGB,
transparency on white), then ``fit_square`` to the checkpoint's image encoder
size, as uint8; the model's own ``encode_images`` normalises them (a pretrained
model's processor resizes the whole photo its own way). Image features are
cached per (image content, model) in a small LRU (``feature_cache.py``), so the
second question about an image skips the CNN (BLIP's vision transformer).
``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) is the arithmetic of every
model, own checkpoints and pretrained ones (``engine/precision.py``): resolved
when a model loads, run under autocast, recorded in each prediction
(``ModelResult.precision``); an own captioner's beam search decodes in float32.
A CNN backbone runs channels-last (NHWC).

Questions are tokenised like the training data (``tokenize_question``),
truncated to the model's ``max_question_len`` tokens, unknown words read as
``<unk>``; a question with no words at all (only punctuation) is one
``<unk>``, as in training. An empty or whitespace-only question is an
``EmptyQuestionError``. All methods are safe to call from any one thread at a
time; a lock serialises concurrent callers.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from vqadesk.data.images import to_rgb as _pil_to_rgb  # the loader's own colour rules, for in-memory images
from vqadesk.engine.checkpoints.trained_models import (
    TrainedCaptioner,
    TrainedVqa,
    load_trained_captioner,
    load_trained_vqa,
)
from vqadesk.engine.device import describe_device, pick_device, synchronize
from vqadesk.engine.features.store_backbone import store_backbone
from vqadesk.engine.image_tensors import fit_square, image_to_tensor, load_image_tensor
from vqadesk.engine.inference import pretrained_runs
from vqadesk.engine.inference.feature_cache import DEFAULT_MAX_ENTRIES, FeatureCache, image_key
from vqadesk.engine.inference.pretrained_runs import LoadedPretrained
from vqadesk.engine.precision import PRECISIONS, PrecisionError, autocast, settle_precision
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.model_registry import (
    DEFAULT_CAPTIONER_NAME,
    DEFAULT_VQA_NAME,
    looks_like_path,
    resolve_model,
)
from vqadesk.engine.torch_free.predictions import Answer, Caption, CaptionPrediction, CaptionWord, VqaPrediction
from vqadesk.errors import VqadeskError
from vqadesk.models import ImageEncoderConfig
from vqadesk.models.backbones import use_channels_last
from vqadesk.text.tokenizer import normalize_text, tokenize_question
from vqadesk.text.vocabulary import PAD_ID, UNK_ID, Vocabulary

__all__ = [
    "Answer",
    "Caption",
    "CaptionPrediction",
    "CaptionWord",
    "EmptyQuestionError",
    "ImageInput",
    "InferenceInputError",
    "NoModelError",
    "Predictor",
    "VqaPrediction",
    "check_question",
    "encode_question",
]

ImageInput = str | os.PathLike | Image.Image

_PIL_SOURCE = Path("<image in memory>")  # how errors about an in-memory image name it
_Features = TypeVar("_Features")


class InferenceInputError(VqadeskError):
    """An argument the Predictor cannot work with (not an image, top_k < 1, ...)."""


class EmptyQuestionError(InferenceInputError):
    """The question is empty or only whitespace."""


class NoModelError(VqadeskError):
    """A VQA or captioning call on a Predictor built without that kind of model."""


@dataclass(frozen=True)
class _Loaded:
    """A model ready to run, the name to show for it, its key in the feature cache, how
    its image features are made from uint8 pixels (its own encoder, or a store's backbone),
    and the precision it runs in (resolved)."""

    name: str
    trained: TrainedVqa | TrainedCaptioner
    encoder_key: str
    image_size: int
    encode: Callable[[torch.Tensor], torch.Tensor]
    precision: str
    draft: bool = False  # decode JPEGs in draft mode, as the feature store the model was trained on did

    @property
    def path(self) -> Path:
        """The checkpoint's ``.json`` file."""
        return Path(self.trained.path)


_load_serial = count(1)  # makes every loaded model instance's cache key unique


def check_question(question: object) -> str:
    """``question`` if it is text with something in it; else ``EmptyQuestionError`` / ``InferenceInputError``.

    Invisible characters (zero-width spaces, control characters) count as whitespace.
    """
    if not isinstance(question, str):
        kind = "None" if question is None else f"a value of type {type(question).__name__}"
        raise InferenceInputError(f"the question must be text, got {kind}")
    if not normalize_text(question).strip():
        raise EmptyQuestionError("the question is empty")
    return question


def encode_question(question: str, vocab: Vocabulary, max_len: int) -> list[int]:
    """Token ids of ``question`` as the model reads it: at most ``max_len``, unknown words ``<unk>``.

    Raises ``EmptyQuestionError`` for an empty or whitespace-only question.
    """
    check_question(question)
    # A question of punctuation only has no tokens; training encoded those as one <unk>.
    return vocab.encode(tokenize_question(question), max_len=max_len) or [UNK_ID]


class Predictor:
    """Answers questions and captions images with one VQA model and one captioner.

    ``vqa`` / ``captioner``: a model name or checkpoint path, ``hf:ORG/NAME[@REVISION]``
    or a transformers model folder, or None for none of that kind. Nothing is loaded
    until first used (or ``load_vqa`` / ``load_captioner``); ``device`` is chosen now
    (``auto``: CUDA, MPS, CPU); ``precision`` is every model's arithmetic (resolved on load).
    """

    def __init__(
        self,
        vqa: str | os.PathLike[str] | None = DEFAULT_VQA_NAME,
        captioner: str | os.PathLike[str] | None = DEFAULT_CAPTIONER_NAME,
        device: str | torch.device = "auto",
        *,
        cache_size: int = DEFAULT_MAX_ENTRIES,
        precision: str = "auto",
    ):
        if precision not in PRECISIONS:
            raise PrecisionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device: torch.device = pick_device(device)
        self.precision = precision
        self.cache: FeatureCache[Any] = FeatureCache(max_entries=cache_size)
        self._requested: dict[ModelKind, str | os.PathLike[str] | None] = {
            ModelKind.VQA: vqa, ModelKind.CAPTIONING: captioner,
        }
        self._loaded: dict[ModelKind, _Loaded | LoadedPretrained | None] = dict.fromkeys(ModelKind)
        self._lock = threading.RLock()

    # -- models ---------------------------------------------------------------------------

    @property
    def device_description(self) -> str:
        """``"CPU (2 threads)"``, ``"CUDA: <GPU> (79 GiB)"``..."""
        return describe_device(self.device)

    @property
    def _vqa(self) -> _Loaded | LoadedPretrained | None:
        return self._loaded[ModelKind.VQA]

    @property
    def _captioner(self) -> _Loaded | LoadedPretrained | None:
        return self._loaded[ModelKind.CAPTIONING]

    @property
    def vqa_model(self) -> str | None:
        """The name of the VQA model loaded now, or None."""
        return self._vqa.name if self._vqa else None

    @property
    def captioner_model(self) -> str | None:
        """The name of the captioner loaded now, or None."""
        return self._captioner.name if self._captioner else None

    @property
    def vqa_path(self) -> Path | None:
        """The loaded VQA model's checkpoint ``.json`` file or pretrained model folder, or None."""
        return self._vqa.path if self._vqa else None

    @property
    def captioner_path(self) -> Path | None:
        """The loaded captioner's checkpoint ``.json`` file or pretrained model folder, or None."""
        return self._captioner.path if self._captioner else None

    def load_vqa(self, name_or_path: str | os.PathLike[str] | None) -> str | None:
        """Load (or, with None, drop) the VQA model; return its display name.

        On failure the previous model stays loaded and the error says why.
        """
        with self._lock:
            self._replace(ModelKind.VQA, name_or_path)
            return self.vqa_model

    def load_captioner(self, name_or_path: str | os.PathLike[str] | None) -> str | None:
        """Load (or, with None, drop) the captioner; return its display name."""
        with self._lock:
            self._replace(ModelKind.CAPTIONING, name_or_path)
            return self.captioner_model

    def clear_cache(self) -> None:
        """Forget every cached image feature."""
        self.cache.clear()

    def _load(self, name_or_path: str | os.PathLike[str], kind: ModelKind) -> _Loaded | LoadedPretrained:
        pretrained = pretrained_runs.load(name_or_path, kind, self.device, self.precision)
        if pretrained is not None:
            return pretrained
        path = resolve_model(name_or_path, kind)
        load_trained = load_trained_vqa if kind == ModelKind.VQA else load_trained_captioner
        precision = settle_precision(self.precision, self.device)
        trained = load_trained(path, self.device)
        use_channels_last(trained.model)  # eval only: no optimiser state to keep in step
        encoder: ImageEncoderConfig = trained.model.config.image_encoder
        encode, image_size = trained.model.encode_images, encoder.image_size
        backbone_text, draft = "", False
        if encoder.name == "precomputed":
            # Trained on a feature store: photos go through the network that made the store.
            backbone = store_backbone(trained.checkpoint.metadata, trained.path, self.device)
            encode = lambda images: trained.model.encode_images(backbone(images))  # noqa: E731
            image_size, backbone_text, draft = backbone.image_size, backbone.description, backbone.draft
        if kind == ModelKind.VQA:
            tokenize_question("warm up")  # spaCy loads on first use: here, not in the first answer
        shown = str(name_or_path) if looks_like_path(name_or_path) else str(name_or_path).strip()
        config_text = json.dumps(encoder.to_dict(), sort_keys=True) + backbone_text
        key = f"{Path(trained.path).resolve()}#{next(_load_serial)}|{config_text}"
        return _Loaded(name=shown, trained=trained, encoder_key=key, image_size=image_size, encode=encode,
                       precision=precision, draft=draft)

    def _replace(self, kind: ModelKind, requested: str | os.PathLike[str] | None) -> None:
        """Load ``requested`` (None: no model) in place of the ``kind`` model; a failed load keeps the old one."""
        loaded = None if requested is None else self._load(requested, kind)
        previous = self._loaded[kind]
        if previous is not None:
            self.cache.forget_encoder(previous.encoder_key)  # nobody can ask for those features again
        self._requested[kind] = requested
        self._loaded[kind] = loaded

    def _require(self, kind: ModelKind) -> _Loaded | LoadedPretrained:
        """The ``kind`` model, loaded now when it was only requested."""
        if self._loaded[kind] is None:
            requested = self._requested[kind]
            if requested is None:
                raise NoModelError(f"no {kind.noun} is loaded (this Predictor was built without one)")
            self._replace(kind, requested)
        loaded = self._loaded[kind]
        assert loaded is not None
        return loaded

    # -- VQA -------------------------------------------------------------------------------

    def ask(self, image: ImageInput, question: str, top_k: int = 5) -> VqaPrediction:
        """The ``top_k`` most likely answers to ``question`` about ``image`` (a path or PIL image)."""
        return self.ask_many([image], [question], top_k=top_k)[0]

    def ask_many(
        self, images: Sequence[ImageInput], questions: Sequence[str], *, top_k: int = 5
    ) -> list[VqaPrediction]:
        """One prediction per (image, question) pair, in one batch.

        Each distinct image is read and encoded once (or taken from the
        cache). Timings are the whole batch's. The first unreadable image
        raises its ``ImageLoadError`` (``.path`` names it).
        """
        with self._lock:
            if len(images) != len(questions):
                raise InferenceInputError(f"got {len(images)} images for {len(questions)} questions")
            _check_at_least(top_k, 1, "top_k")
            if not questions:
                return []
            loaded = self._require(ModelKind.VQA)  # loading a model is not part of the answer's timings
            if isinstance(loaded, LoadedPretrained):
                for question in questions:
                    check_question(question)
                return pretrained_runs.ask(loaded, images, questions, top_k, self._cached_features)
            started = time.perf_counter()
            trained: TrainedVqa = loaded.trained  # type: ignore[assignment]
            model = trained.model
            tokenize_started = time.perf_counter()
            encoded = [encode_question(q, trained.question_vocab, model.config.max_question_len) for q in questions]
            tokenize_ms = _ms_since(tokenize_started)
            features, timings, cached = self._features(loaded, images)
            answer_started = time.perf_counter()
            tokens, lengths = _pad(encoded)
            with torch.inference_mode():
                with autocast(loaded.precision, self.device):
                    output = model.answer(features, tokens.to(self.device), lengths.to(self.device))
                probs = torch.softmax(output.logits.float(), dim=1)  # (N, K)
                top_probs, top_index = probs.topk(min(top_k, probs.shape[1]), dim=1)  # (N, k)
                glimpses = None if output.attention is None else _unit_maps(output.attention)  # (N, G, h, w)
            top_probs_list, top_index_list = top_probs.cpu().tolist(), top_index.cpu().tolist()
            synchronize(self.device)
            timings["answer"] = tokenize_ms + _ms_since(answer_started)  # reading the question is part of answering
            timings["total"] = _ms_since(started)
            predictions = []
            for row, question in enumerate(questions):
                answers = [
                    Answer(text=trained.answer_vocab.answer_of(index), prob=float(prob))
                    for prob, index in zip(top_probs_list[row], top_index_list[row])
                ]
                row_glimpses = None if glimpses is None else glimpses[row]  # (G, h, w)
                predictions.append(
                    VqaPrediction(
                        question=question, answers=answers, attention=_mean_map(row_glimpses),
                        glimpses=row_glimpses, model=loaded.name, timings_ms=dict(timings), cached=cached[row],
                        precision=loaded.precision,
                    )
                )
            return predictions

    # -- captions --------------------------------------------------------------------------

    def caption(self, image: ImageInput, beam_size: int = 3, num_captions: int = 1) -> CaptionPrediction:
        """``num_captions`` distinct captions of ``image``, best first (``beam_size=1``: greedy)."""
        return self.caption_many([image], beam_size=beam_size, num_captions=num_captions)[0]

    def caption_many(
        self, images: Sequence[ImageInput], *, beam_size: int = 3, num_captions: int = 1
    ) -> list[CaptionPrediction]:
        """Captions of each image, decoded together in one beam search; timings are the batch's."""
        with self._lock:
            _check_at_least(beam_size, 1, "beam_size")
            _check_at_least(num_captions, 1, "num_captions")
            if not images:
                return []
            loaded = self._require(ModelKind.CAPTIONING)
            if isinstance(loaded, LoadedPretrained):
                return pretrained_runs.caption(loaded, images, beam_size, num_captions, self._cached_features)
            started = time.perf_counter()
            trained: TrainedCaptioner = loaded.trained  # type: ignore[assignment]
            features, timings, cached = self._features(loaded, images)
            decode_started = time.perf_counter()
            with torch.inference_mode():
                # Beam search in float32 whatever the precision: in bf16 a third of the bundled
                # captioner's best captions changed (near-tied beams reorder); docs/performance.md.
                generated = trained.model.generate(features.float(), beam_size=beam_size, num_captions=num_captions)
            synchronize(self.device)
            timings["decode"] = _ms_since(decode_started)
            timings["total"] = _ms_since(started)
            return [
                CaptionPrediction(
                    captions=[_caption(found, trained.vocab) for found in per_image],
                    model=loaded.name, timings_ms=dict(timings), cached=cached[row], precision=loaded.precision,
                )
                for row, per_image in enumerate(generated)
            ]

    # -- image features ----------------------------------------------------------------------

    def _features(
        self, loaded: _Loaded, images: Sequence[ImageInput]
    ) -> tuple[torch.Tensor, dict[str, float], list[bool]]:
        """Features ``(N, ...)`` of ``images`` (one row each), timings, and which came from the cache."""

        def read(image: ImageInput) -> torch.Tensor:
            return _pixels(image, loaded.image_size, loaded.draft)  # (3, S, S) uint8

        def encode(pixels: list[torch.Tensor]) -> list[torch.Tensor]:
            with autocast(loaded.precision, self.device):
                encoded = loaded.encode(torch.stack(pixels).to(self.device))  # (M, ...)
            # Copies, so a cached row does not keep the whole batch's tensor alive.
            return [row.clone() for row in encoded] if len(pixels) > 1 else [encoded[0]]

        rows, timings, cached = self._cached_features(loaded.encoder_key, images, read, encode)
        return torch.stack(rows), timings, cached

    def _cached_features(
        self,
        encoder_key: str,
        images: Sequence[ImageInput],
        read: Callable[[ImageInput], Any],
        encode: Callable[[list[Any]], list[_Features]],
    ) -> tuple[list[_Features], dict[str, float], list[bool]]:
        """One cache entry per image (each distinct image read and encoded once), timings, which were cached.

        ``read`` decodes one image (timed as ``load_image``, with the hashing); ``encode`` turns the
        images not in the cache into one entry each (timed as ``encode``, 0 when all were cached).
        """
        load_started = time.perf_counter()
        keys = [(image_key(_checked_image(image)), encoder_key) for image in images]
        found: dict[tuple[str, str], _Features] = {}
        missing: dict[tuple[str, str], ImageInput] = {}
        for key, image in zip(keys, images):
            if key in found or key in missing:
                continue
            cached_features = self.cache.get(key)
            if cached_features is not None:
                found[key] = cached_features
            else:
                missing[key] = image
        was_cached = [key in found for key in keys]
        decoded = [read(image) for image in missing.values()]
        timings = {"load_image": _ms_since(load_started), "encode": 0.0}
        if decoded:
            encode_started = time.perf_counter()
            with torch.inference_mode():
                encoded = encode(decoded)
            synchronize(self.device)
            timings["encode"] = _ms_since(encode_started)
            for key, features in zip(missing, encoded):
                found[key] = features
                self.cache.put(key, features)
        return [found[key] for key in keys], timings, was_cached


# -- helpers -------------------------------------------------------------------------------


def _checked_image(image: object) -> ImageInput:
    if isinstance(image, (str, os.PathLike, Image.Image)):
        return image
    kind = "None" if image is None else f"a value of type {type(image).__name__}"
    raise InferenceInputError(f"an image must be a file path or a PIL image, got {kind}")


def _pixels(image: ImageInput, size: int, draft: bool = False) -> torch.Tensor:
    """``uint8 (3, size, size)``: the same pixels training saw (load_image, then fit_square; for a
    model trained on a feature store made in JPEG draft mode, a file is decoded in draft mode too)."""
    if isinstance(image, Image.Image):
        return image_to_tensor(fit_square(_pil_to_rgb(_PIL_SOURCE, image), size))
    return load_image_tensor(image, size, draft=draft)


def _pad(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids ``(N, T)`` padded with ``<pad>`` and lengths ``(N,)``."""
    lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
    tokens = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, ids in enumerate(encoded):
        tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return tokens, lengths


def _mean_map(glimpses: np.ndarray | None) -> np.ndarray | None:
    """The glimpses' mean ``(h, w)``, renormalised to sum to exactly 1 in float32."""
    if glimpses is None:
        return None
    mean = glimpses.mean(axis=0, dtype=np.float64)
    total = mean.sum()
    return (mean / total if total > 0 else np.full_like(mean, 1.0 / mean.size)).astype(np.float32)


def _unit_maps(maps: torch.Tensor) -> np.ndarray:
    """Attention maps ``(..., h, w)`` as float32, each summing to 1 again (bf16 rounds the softmax)."""
    maps = maps.float().cpu()
    return (maps / maps.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)).numpy()


def _caption(found, vocab: Vocabulary) -> Caption:
    words = [vocab.id_to_token(token_id) for token_id in found.token_ids]
    maps = None if found.attention is None else _unit_maps(found.attention)  # (L, h, w)
    return Caption(
        text=" ".join(words),
        words=[
            CaptionWord(word=word, prob=float(prob), attention=None if maps is None else maps[index])
            for index, (word, prob) in enumerate(zip(words, found.token_probs))
        ],
        score=float(found.score),
        log_prob=float(found.log_prob),
    )


def _check_at_least(value: int, smallest: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
        raise InferenceInputError(f"{name} must be an integer of at least {smallest}, got {value!r}")


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
