"""The training loop (``trainer``), written once, and the two tasks it runs: VQA and captioning.

Each task reads its split into examples (``*_examples``), batches whole images (``image_groups``)
and validates with the official metrics. ``python -m training.vqa|captioning`` runs them.
"""
