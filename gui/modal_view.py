"""stub"""
from pyqtgraph.Qt import QtCore, QtWidgets
class ModalView(QtWidgets.QWidget):
    sig_message = QtCore.Signal(str)
    def __init__(self, runner, parent=None):
        super().__init__(parent)
    def set_session(self, s): pass
    def set_window(self, a, b): pass
    def run(self): pass
