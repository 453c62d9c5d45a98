"""vqadesk's training routines, launched as ``python -m training.<routine>``.

Each routine is a thin script over the Qt-free training loop in ``vqadesk``;
the desktop app's Training tab starts them as separate processes and reads
their JSON-line events from stdout. The VQA and captioning routines arrive
with the models issue (see docs/architecture.md).
"""
