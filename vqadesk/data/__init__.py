"""Qt-free readers and writers for the data vqadesk works on.

COCO annotations and image folders, VQA v2 questions and annotations, the
synthetic Shapes world, and the one image loader used everywhere.
"""
