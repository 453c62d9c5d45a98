"""The desktop app (PySide6 + pyqtgraph). The only package that imports Qt.

Panels render plain records from the Qt-free layers below; anything slow
(opening a dataset, generating the Shapes world, making thumbnails) runs off
the GUI thread and reports back through signals.
"""
