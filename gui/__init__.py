"""The pyqtgraph/Qt desktop viewer (extra ``gui``)."""
