"""``load_pretrained``: a resolved model folder (``PretrainedSource``) -> a model the Predictor runs.

The folder's architecture picks the class (``_class_of``); each class loads its weights through
``base.load_weights`` (safetensors only, local files only, no remote code) and its processor
from the same folder. The precision is decided here (``precision.resolve_precision``: ``auto`` is
bf16 on CPUs and GPUs that do it natively).

A damaged folder -- a truncated or foreign ``model.safetensors``, tensors of the wrong shapes, a
processor or tokenizer file that is not valid JSON or is missing -- makes transformers,
safetensors or tokenizers raise whatever they raise; that becomes one ``PretrainedModelError``
line naming the model and its folder (``tokenizer_files.py`` catches the tokenizer files that
transformers would silently do without). An exception raised by vqadesk's own code is a bug
and is left alone (exit code 3, not a user's error). While loading, transformers' progress bars
and warnings (its multi-line load reports) stay off stderr: the error line says what is wrong.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType

import torch

from vqadesk.engine.precision import check_precision, resolve_precision
from vqadesk.engine.pretrained.base import PretrainedModel
from vqadesk.engine.pretrained.tokenizer_files import check_tokenizer_files
from vqadesk.engine.torch_free.hub.references import PretrainedModelError, PretrainedSource, supported_sentence
from vqadesk.errors import VqadeskError

# Where an exception that means "this folder is damaged" comes from.
_LIBRARIES = frozenset({"transformers", "safetensors", "tokenizers", "huggingface_hub"})
_MESSAGE_CHARS = 300  # of a library's message, in the one line


def load_pretrained(source: PretrainedSource, device: torch.device, precision: str = "auto") -> PretrainedModel:
    """The model in ``source.folder`` on ``device``, run in ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``)."""
    resolved = resolve_precision(precision, device)
    check_precision(resolved, device)
    model_class = _class_of(source)
    check_tokenizer_files(source)
    try:
        with _quiet_transformers():
            return model_class(source, device, resolved)
    except VqadeskError:
        raise
    except Exception as exc:  # narrowed below to what the libraries raised
        if not _raised_by_library(exc.__traceback__):
            raise
        raise PretrainedModelError(
            f"{source.name}: the model in {source.folder} cannot be loaded ({_reason(exc)}); "
            "it may be damaged or incomplete: download it again"
        ) from None


def _class_of(source: PretrainedSource) -> type[PretrainedModel]:
    """The class that runs ``source.architecture``; each imported only when asked for."""
    architecture = source.architecture
    try:
        if architecture == "ViltForQuestionAnswering":
            from vqadesk.engine.pretrained.vilt_vqa import ViltVqa

            return ViltVqa
        if architecture == "BlipForQuestionAnswering":
            from vqadesk.engine.pretrained.blip_vqa import BlipVqa

            return BlipVqa
        if architecture == "BlipForConditionalGeneration":
            from vqadesk.engine.pretrained.blip_captioner import BlipCaptioner

            return BlipCaptioner
        if architecture == "GitForCausalLM":
            from vqadesk.engine.pretrained.git_captioner import GitCaptioner

            return GitCaptioner
        if architecture == "VisionEncoderDecoderModel":
            from vqadesk.engine.pretrained.encoder_decoder_captioner import EncoderDecoderCaptioner

            return EncoderDecoderCaptioner
    except ImportError as exc:  # a module of this package missing: a broken install
        raise PretrainedModelError(f"{source.name}: vqadesk cannot run {architecture} models here ({exc})") from None
    raise PretrainedModelError(f"{source.name}: architecture {architecture!r} is not supported; {supported_sentence()}")


def _raised_by_library(traceback: TracebackType | None) -> bool:
    """Whether the exception passed through transformers, safetensors, tokenizers or huggingface_hub."""
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.partition(".")[0] in _LIBRARIES:
            return True
        traceback = traceback.tb_next
    return False


def _reason(exc: BaseException) -> str:
    """What went wrong, in a few words."""
    if "ignore_mismatched_sizes" in str(exc):  # its details are in the load report, kept off stderr
        return "its weights do not have the shapes its config.json gives"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, shortened: libraries' messages run to paragraphs."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bars nor warnings from transformers on stderr while loading: the CLI prints one
    result or one error line, the app shows its own progress."""
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars_were_on:
            transformers_logging.enable_progress_bar()
