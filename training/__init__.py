"""vqadesk's training routines, launched as ``python -m training.<routine>``.

``vqa`` and ``captioning`` train a model, ``extract_features`` fills a feature
store, ``evaluate`` scores a checkpoint on a split, ``bundle`` and
``export_encoder`` package trained weights. Each is a thin script over the
Qt-free engine in ``vqadesk``; the desktop app's Training tab starts the
training ones as separate processes and reads their JSON-line events from
stdout. Every ``main`` maps failures to exit codes with
``vqadesk.errors.run_entry_point``.
"""
