"""The Qt-free engine: device selection, checkpoints, training, inference and feature extraction.

Subpackages, each importing only what it needs:

- ``engine.torch_free``: plain records and protocols the GUI process may import (predictions, run
  folders, training events, the model registry, the inference process's protocol). Never torch.
- ``engine.checkpoints``: safetensors + JSON checkpoints and the state they carry.
- ``engine.training``: the training loop and its two tasks (VQA, captioning) with their data.
- ``engine.inference``: the Predictor, the model pool the app's inference process owns, evaluation.
- ``engine.features``: torchvision backbones' features into feature stores, and back.

The modules directly here (``device``, ``precision``, ``image_tensors``) are shared by them all.
This file stays empty so that importing one module does not load the others.
"""
