"""The ``vqadesk`` command line: argparse front ends over the Qt-free engine."""
