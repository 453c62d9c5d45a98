"""Text handling: answer normalisation, tokenisers and vocabularies (Qt-free, torch-free)."""
