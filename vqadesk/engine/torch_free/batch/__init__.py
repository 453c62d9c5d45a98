"""Batch captioning and questioning of a folder of photos: torch-free, shared by the command line and the app.

The modules, in the order a job uses them:

* ``photos``: ``iter_photos(root, recursive)`` lists a folder lazily and repeatably
  (``Photo(key, path, coco_id)``), ``count_photos`` / ``survey_photos`` count it from names;
* ``records``: ``BatchSettings`` (the job's header), ``CaptionRow``, ``AnswerRow``,
  ``FailedPhoto``, ``RowEdit``, ``BatchResults``;
* ``predict``: ``predict_photos(models, photos, settings)``, a chunk through a Predictor or a
  ModelPool, an unreadable photo set aside and the chunk tried again without it;
* ``progress``: the progress file beside the output (``OUT.progress.jsonl``), what makes a job
  resume; ``iter_results`` / ``load_results`` read it back, edits applied;
* ``job``: ``run_batch`` (a generator of ``Started``, ``Progress``, ``PhotoFailed``,
  ``Finished``) and ``BatchJob`` (the same, one chunk at a time);
* ``exports`` / ``readers``: the results file in ``json``, ``jsonl``, ``csv`` or ``coco``,
  and reading any of them back (``read_batch_results``);
* ``sidecars``: ``NAME.txt`` beside each photo.

Everything here is importable without torch or Qt (the app's GUI process uses it); docs/batch.md
describes the files and the rules.
"""

from vqadesk.engine.torch_free.batch.exports import (
    FORMATS,
    ExportError,
    ExportReport,
    check_export_format,
    csv_header,
    default_format,
    export_results,
    row_dict,
)
from vqadesk.engine.torch_free.batch.job import (
    DEFAULT_CHUNK_SIZE,
    BatchEvent,
    BatchJob,
    Finished,
    PhotoFailed,
    Progress,
    Started,
    run_batch,
)
from vqadesk.engine.torch_free.batch.photos import (
    Photo,
    PhotoSurvey,
    check_photo_folder,
    count_photos,
    iter_photos,
    photos_from_files,
    survey_photos,
)
from vqadesk.engine.torch_free.batch.predict import BatchModels, predict_photos, predict_retrying
from vqadesk.engine.torch_free.batch.progress import (
    ProgressFile,
    SettingsMismatchError,
    iter_results,
    load_results,
    progress_path,
    read_settings,
)
from vqadesk.engine.torch_free.batch.readers import read_batch_results
from vqadesk.engine.torch_free.batch.records import (
    CAPTIONS,
    VQA,
    AnswerRow,
    BatchResults,
    BatchSettings,
    BatchSettingsError,
    CaptionRow,
    FailedPhoto,
    PhotoResult,
    Row,
    RowEdit,
)
from vqadesk.engine.torch_free.batch.sidecars import SidecarReport, sidecar_path, sidecar_text, write_sidecars

__all__ = [
    "CAPTIONS", "DEFAULT_CHUNK_SIZE", "FORMATS", "VQA", "AnswerRow", "BatchEvent", "BatchJob", "BatchModels",
    "BatchResults", "BatchSettings", "BatchSettingsError", "CaptionRow", "ExportError", "ExportReport",
    "FailedPhoto", "Finished", "Photo", "PhotoFailed", "PhotoResult", "PhotoSurvey", "Progress", "ProgressFile",
    "Row", "RowEdit", "SettingsMismatchError", "SidecarReport", "Started", "check_export_format", "check_photo_folder",
    "count_photos", "csv_header", "default_format", "export_results", "iter_photos", "iter_results",
    "load_results", "photos_from_files", "predict_photos", "predict_retrying", "progress_path",
    "read_batch_results", "read_settings", "row_dict", "run_batch", "sidecar_path", "sidecar_text",
    "survey_photos", "write_sidecars",
]
