"""Checkpoints: a model, its config and its training state as safetensors + JSON, never pickle."""
