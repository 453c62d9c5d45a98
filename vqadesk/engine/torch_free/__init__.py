"""The engine's torch-free part: what the GUI process may import.

Plain records (predictions, what a model pool loaded), model names and model cards, training run
folders, configs and their command lines, the training routines' event stream, the inference
process's protocol, the question history and its exports. Nothing here imports torch or Qt; the
import contracts in ``pyproject.toml`` (``lint-imports``) keep it so.
"""
