"""Pretrained transformers models (BLIP, ViLT, GIT, vision-encoder-decoder) behind vqadesk's own records.

``load_pretrained(source, device, precision)`` loads a model folder that
``engine/torch_free/hub/references.py`` resolved, and returns a ``PretrainedCaptioner`` or
``PretrainedVqa`` (``base.py``) that the Predictor runs like its own models: the same
``Answer`` / ``Caption`` records, heatmaps over the photo, features cached per image.
"""
