"""The recommended pretrained models: what ``vqadesk models list`` and the Models tab offer to download.

Each entry pins a revision that holds ``model.safetensors`` (vqadesk never loads a pickle), and
says what the download costs: ``download_bytes`` is what ``vqadesk models download`` fetches
(the safetensors weights and the small config, processor and tokenizer files), ``ram_bytes`` about
what the loaded model takes in float32. Figures and licences are those on each repository's Hub
page (docs/models.md, "Pretrained models", says when they were checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from vqadesk.engine.torch_free.model_kind import ModelKind

_MB = 1_000_000


@dataclass(frozen=True)
class CatalogueEntry:
    """One recommended model on the Hub."""

    repo_id: str
    revision: str  # a branch, a ref such as refs/pr/9, or a commit: one that has model.safetensors
    kind: ModelKind
    architecture: str  # config.json's architectures[0]
    title: str
    licence: str
    download_bytes: int
    ram_bytes: int
    summary: str
    recommended: bool = False  # the one the app offers first for its kind

    @property
    def reference_text(self) -> str:
        """``hf:ORG/NAME``: the catalogue's revision is the default, so it need not be spelled."""
        return f"hf:{self.repo_id}"


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        repo_id="Salesforce/blip-image-captioning-base",
        revision="refs/pr/38",
        kind=ModelKind.CAPTIONING,
        architecture="BlipForConditionalGeneration",
        title="BLIP captioner (base)",
        licence="BSD-3-Clause",
        download_bytes=991 * _MB,
        ram_bytes=1_000 * _MB,
        summary="BLIP ViT-B/16 captioner fine-tuned on COCO: good everyday captions of photos",
        recommended=True,
    ),
    CatalogueEntry(
        repo_id="Salesforce/blip-image-captioning-large",
        revision="main",
        kind=ModelKind.CAPTIONING,
        architecture="BlipForConditionalGeneration",
        title="BLIP captioner (large)",
        licence="BSD-3-Clause",
        download_bytes=1_881 * _MB,
        ram_bytes=1_900 * _MB,
        summary="BLIP ViT-L/16 captioner fine-tuned on COCO: better captions, about twice as slow as base",
    ),
    CatalogueEntry(
        repo_id="microsoft/git-base-coco",
        revision="refs/pr/1",
        kind=ModelKind.CAPTIONING,
        architecture="GitForCausalLM",
        title="GIT captioner (base, COCO)",
        licence="MIT",
        download_bytes=708 * _MB,
        ram_bytes=710 * _MB,
        summary="GIT generative image-to-text transformer fine-tuned on COCO: small and fast",
    ),
    CatalogueEntry(
        repo_id="nlpconnect/vit-gpt2-image-captioning",
        revision="refs/pr/37",
        kind=ModelKind.CAPTIONING,
        architecture="VisionEncoderDecoderModel",
        title="ViT-GPT2 captioner",
        licence="Apache-2.0",
        download_bytes=985 * _MB,
        ram_bytes=990 * _MB,
        summary="A ViT image encoder with a GPT-2 decoder, trained on COCO: a popular simple baseline",
    ),
    CatalogueEntry(
        repo_id="Salesforce/blip-vqa-base",
        revision="main",
        kind=ModelKind.VQA,
        architecture="BlipForQuestionAnswering",
        title="BLIP VQA (base)",
        licence="BSD-3-Clause",
        download_bytes=1_541 * _MB,
        ram_bytes=1_550 * _MB,
        summary="BLIP ViT-B/16 fine-tuned on VQA v2: writes its answers, so any answer is possible",
        recommended=True,
    ),
    CatalogueEntry(
        repo_id="dandelin/vilt-b32-finetuned-vqa",
        revision="refs/pr/9",
        kind=ModelKind.VQA,
        architecture="ViltForQuestionAnswering",
        title="ViLT VQA (B/32)",
        licence="Apache-2.0",
        download_bytes=471 * _MB,
        ram_bytes=470 * _MB,
        summary="ViLT fine-tuned on VQA v2: one transformer over words and image patches, "
        "choosing among 3,129 answers; fast",
    ),
)


def catalogue_entry(repo_id: str) -> CatalogueEntry | None:
    """The catalogue's entry for ``repo_id`` (Hub ids are case-insensitive), or None."""
    wanted = repo_id.casefold()
    return next((entry for entry in CATALOGUE if entry.repo_id.casefold() == wanted), None)


def recommended(kind: ModelKind) -> CatalogueEntry:
    """The model the app offers first for ``kind``."""
    return next(entry for entry in CATALOGUE if entry.kind is kind and entry.recommended)


def default_revision(repo_id: str) -> str:
    """The revision ``hf:ORG/NAME`` means without ``@REVISION``: the catalogue's pin, else ``main``."""
    entry = catalogue_entry(repo_id)
    return entry.revision if entry is not None else "main"
