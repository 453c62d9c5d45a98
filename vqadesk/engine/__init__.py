"""The Qt-free engine: device selection, checkpoints, training and inference.

Everything here imports torch; the GUI, the command line and the ``training/``
routines call into it, and it builds on ``vqadesk.models``, ``vqadesk.data``,
``vqadesk.text`` and ``vqadesk.metrics``. Import the submodules you need
(``vqadesk.engine.device``, ``vqadesk.engine.checkpoint``, ...); this package
file stays empty so that importing one does not load the others.
"""
