"""What the Models tab knows about pretrained models: those in the Hugging Face cache, the catalogue, their cards.

Qt-free and quick (a few small files read, nothing fetched): the panel calls it whenever it is
shown, so a model downloaded from a terminal (``vqadesk models download``) appears too.

* ``cached_models()``: every model of a supported architecture in the Hugging Face cache
  (``references.cache_dir()``), one per cached revision, with its size on disk; a model whose
  weights are only a pickle, or of another architecture, is left out (it cannot be used).
* ``is_downloaded(entry)``: whether a catalogue entry's pinned revision is in the cache.
* ``catalogue_card`` / ``cached_card`` / ``folder_card``: the Markdown the panel shows, with what
  each model costs and the exact commands that use it.
* ``model_key(name, path)``: the reference a loaded model is known by in the panel
  (``hf:ORG/NAME`` for a Hub model, else its path), however the inference process named it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vqadesk.engine.torch_free.hub.cache import bytes_under, downloaded_models
from vqadesk.engine.torch_free.hub.catalogue import CatalogueEntry, catalogue_entry
from vqadesk.engine.torch_free.hub.references import (
    HubReference,
    PretrainedModelError,
    PretrainedSource,
    parse_reference,
    snapshot_folder,
)
from vqadesk.engine.torch_free.hub.sizes import format_bytes
from vqadesk.engine.torch_free.model_kind import ModelKind

_REPO_PREFIX = "models--"
_COMMANDS = {ModelKind.CAPTIONING: "vqadesk caption photo.jpg --model {ref}",
             ModelKind.VQA: 'vqadesk ask photo.jpg "what is the man riding?" --model {ref}'}


@dataclass(frozen=True)
class CachedModel:
    """A usable pretrained model in the Hugging Face cache."""

    source: PretrainedSource
    size_bytes: int  # the snapshot's files on disk (each blob counted once)

    @property
    def reference(self) -> HubReference:
        assert self.source.reference is not None  # cached models are always named by a reference
        return self.source.reference

    @property
    def entry(self) -> CatalogueEntry | None:
        """The catalogue's entry when this is its pinned revision."""
        entry = catalogue_entry(self.reference.repo_id)
        return entry if entry is not None and self.reference.resolved_revision == entry.revision else None

    @property
    def title(self) -> str:
        entry = self.entry
        return entry.title if entry is not None else self.reference.text


def short_model_name(name: str) -> str:
    """``runs/x/best.json`` -> ``x/best``; a bundled name or ``hf:ORG/NAME`` stays as it is."""
    if name.lower().startswith("hf:"):
        return name
    path = Path(name)
    if not path.suffix:
        return name
    return f"{path.parent.name}/{path.stem}" if path.stem in ("best", "last") else path.stem


def short_title(entry: CatalogueEntry) -> str:
    """``BLIP captioner (base)`` -> ``BLIP captioner``: the name a button has room for."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", entry.title) or entry.title


def is_downloaded(entry: CatalogueEntry) -> bool:
    return snapshot_folder(HubReference(entry.repo_id)) is not None


def cached_models() -> list[CachedModel]:
    """The usable models in the Hugging Face cache (``cache.downloaded_models``), sorted by reference."""
    found = [
        CachedModel(
            PretrainedSource(name=model.reference.text, folder=model.folder, architecture=model.architecture,
                             kind=model.kind, reference=model.reference, commit=model.commit),
            model.size_on_disk,
        )
        for model in downloaded_models()
    ]
    return sorted(found, key=lambda model: model.reference.text.casefold())


def model_key(name: str | None, path: str | Path | None) -> str | None:
    """``hf:ORG/NAME[@REV]`` for a model from the Hub (named so, or loaded from its snapshot folder), else the path."""
    try:
        reference = parse_reference(name) if name else None
    except PretrainedModelError:
        reference = None
    if reference is not None:
        return reference.text
    if path is not None:
        parts = Path(path).parts
        for index, part in enumerate(parts[:-2]):
            if part.startswith(_REPO_PREFIX) and parts[index + 1] == "snapshots":
                return f"hf:{part[len(_REPO_PREFIX):].replace('--', '/', 1)}"
        return str(path)
    return name


def same_model(a: str | None, b: str | None) -> bool:
    """Whether two keys (``model_key``) name the same model: Hub ids ignore case and the default revision."""
    if not a or not b:
        return False
    try:
        ref_a, ref_b = parse_reference(a), parse_reference(b)
    except PretrainedModelError:
        return a == b
    if ref_a is not None or ref_b is not None:
        return (ref_a is not None and ref_b is not None and ref_a.repo_id.casefold() == ref_b.repo_id.casefold()
                and ref_a.resolved_revision == ref_b.resolved_revision)
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def display_name(key: str) -> str:
    """What messages call a Hub model: a catalogue model's title, else its reference; anything else as it is."""
    try:
        reference = parse_reference(key)
    except PretrainedModelError:
        reference = None
    if reference is not None:
        entry = catalogue_entry(reference.repo_id)
        return entry.title if entry is not None and reference.revision is None else reference.text
    return key


# -- cards ------------------------------------------------------------------------------------------


def catalogue_card(entry: CatalogueEntry, *, downloaded: bool) -> str:
    state = ("**Downloaded**: in the Hugging Face cache, ready to use." if downloaded
             else f"**Not downloaded.** *Download…* fetches {format_bytes(entry.download_bytes)} "
                  "after showing you the size and the free disk space.")
    return "\n\n".join([
        f"# {entry.title}",
        f"`{entry.repo_id}` · {entry.kind.noun} · licence **{entry.licence}**"
        + (" · recommended" if entry.recommended else ""),
        entry.summary + ".",
        state,
        _costs(entry.download_bytes, entry.ram_bytes, entry.revision, entry.architecture),
        _commands(entry.reference_text, entry.kind, download=True),
        _safety(),
    ])


def cached_card(model: CachedModel, *, device: str, in_use: bool) -> str:
    entry, source = model.entry, model.source
    lines = [f"# {model.title}", f"`{model.reference.text}` · {source.kind.noun} · {source.architecture}"
             + (f" · licence **{entry.licence}**" if entry else "")]
    if entry is not None:
        lines.append(entry.summary + ".")
    lines.append(
        f"**On disk:** {format_bytes(model.size_bytes)} in the Hugging Face cache"
        + (f" · **memory when loaded:** about {format_bytes(entry.ram_bytes)}" if entry else "")
        + f" · **runs on** {device}" + (" · **in use**" if in_use else "")
    )
    lines.append(f"**Folder:** `{source.folder}`" + (f" (commit `{source.commit[:12]}`)" if source.commit else ""))
    lines.append(_commands(model.reference.text, source.kind, download=False))
    lines.append(_safety())
    return "\n\n".join(lines)


def folder_card(source: PretrainedSource, *, device: str, in_use: bool) -> str:
    return "\n\n".join([
        f"# {source.folder.name}",
        f"A transformers model folder · {source.kind.noun} · {source.architecture}",
        f"**Folder:** `{source.folder}` · **on disk** {format_bytes(bytes_under(source.folder))}"
        f" · **runs on** {device}" + (" · **in use**" if in_use else ""),
        _commands(str(source.folder), source.kind, download=False),
        _safety(),
    ])


def _costs(download: int, ram: int, revision: str, architecture: str) -> str:
    return (f"**Download:** {format_bytes(download)} · **memory when loaded:** about {format_bytes(ram)} · "
            f"**revision** `{revision}` · {architecture}")


def _commands(reference: str, kind: ModelKind, *, download: bool) -> str:
    lines = ([f"    vqadesk models download {reference}"] if download else []) + [
        "    " + _COMMANDS[kind].format(ref=reference)]
    return "**On the command line:**\n\n" + "\n".join(lines)


def _safety() -> str:
    return ("Only safetensors weights are loaded (never a pickle), no remote code runs, and loading "
            "never touches the network.")
