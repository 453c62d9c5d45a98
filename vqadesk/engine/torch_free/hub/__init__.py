"""Pretrained models from the Hugging Face Hub, without torch: references, the catalogue, the cache, downloads.

``references`` turns ``hf:ORG/NAME[@REVISION]`` or a local transformers folder into a folder
ready to load; ``catalogue`` lists the recommended models; the download and cache modules fetch
and remove them. Loading itself (torch + transformers) is ``vqadesk.engine.pretrained``.
"""
