"""vqadesk: interactive visual question answering and image captioning.

Layers (see docs/architecture.md): ``gui`` (Qt) and ``cli`` wrap the Qt-free
``engine``; below it ``models``, ``metrics``, ``data`` and ``text``. Nothing
outside ``vqadesk.gui`` imports Qt.
"""

__version__ = "0.1.0"
