"""The catalogue of recommended Hub models is consistent with what vqadesk loads."""

from __future__ import annotations

from vqadesk.engine.torch_free.hub.catalogue import CATALOGUE, default_revision, recommended
from vqadesk.engine.torch_free.hub.references import ARCHITECTURES, parse_reference
from vqadesk.engine.torch_free.model_kind import ModelKind


def test_every_entry_names_a_supported_architecture_of_its_kind_and_a_pinned_revision():
    for entry in CATALOGUE:
        assert ARCHITECTURES[entry.architecture] is entry.kind, entry.repo_id
        assert parse_reference(f"{entry.reference_text}@{entry.revision}").revision == entry.revision
        assert default_revision(entry.repo_id) == entry.revision
        assert entry.licence and entry.download_bytes > 100_000_000 and entry.ram_bytes > 0


def test_one_recommended_model_per_kind():
    for kind in ModelKind:
        assert sum(entry.recommended and entry.kind is kind for entry in CATALOGUE) == 1
        assert recommended(kind).kind is kind
