"""The Caption panel's scores, computed in a worker process: BLEU-4 and CIDEr-D of one caption.

CIDEr-D weighs n-grams by their document frequencies over **the whole split's**
references (``metrics.captions.reference_corpus``): tokenising and counting
200,000 captions is seconds of pure Python. Run in a thread of the GUI
process, that holds the GIL against the GUI thread the whole time (measured:
scrolling a 40,504-image split stalled 1-1.5 s per page), so the desktop app
runs ``score_caption`` in a worker process without models
(``InferenceClient(models=False)``), which reads the split's caption files
itself and keeps the last few corpora. Qt-free and torch-free.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vqadesk.data.coco import CocoIndex
from vqadesk.metrics.captions import reference_corpus, score_one_caption

MAX_CORPORA = 3  # splits whose document frequencies the worker keeps

_corpora: OrderedDict[tuple, object] = OrderedDict()  # in the worker process: key -> CiderCorpus


@dataclass(frozen=True)
class ReferenceSource:
    """Where a split's reference captions are read from: its COCO files (captions files when named so)."""

    files: tuple[Path, ...]
    image_dir: Path | None

    @classmethod
    def of(cls, files: Iterable[os.PathLike[str] | str], image_dir: os.PathLike[str] | str | None):
        """None when there are no annotation files (a folder of photos has no references)."""
        files = tuple(Path(f) for f in files)
        if not files:
            return None
        captions = tuple(f for f in files if f.name.startswith("captions"))
        return cls(captions or files, Path(image_dir) if image_dir is not None else None)

    def key(self) -> tuple:
        """The files with their sizes and times: a rewritten file is a new corpus."""
        identity = []
        for path in self.files:
            try:
                stat = path.stat()
                identity.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
            except OSError:
                identity.append((str(path), None, None))
        return tuple(identity)


def split_corpus(source: ReferenceSource):
    """The CIDEr-D document frequencies of every reference caption of the split (kept for the next call)."""
    key = source.key()
    corpus = _corpora.get(key)
    if corpus is None:
        coco = CocoIndex(source.files, image_dir=source.image_dir)
        reference_sets = ([c.caption for c in coco.captions(i)] for i in coco.image_ids)
        corpus = reference_corpus(refs for refs in reference_sets if refs)
        _corpora[key] = corpus
        while len(_corpora) > MAX_CORPORA:
            _corpora.popitem(last=False)
    _corpora.move_to_end(key)
    return corpus


def score_caption(_pool, source: ReferenceSource, candidate: str, references: list[str]) -> tuple[float, float]:
    """Worker job: BLEU-4 and CIDEr-D of ``candidate`` against its image's ``references``."""
    return score_one_caption(candidate, references, split_corpus(source))
