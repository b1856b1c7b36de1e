"""stub"""
from pyqtgraph.Qt import QtCore, QtWidgets
class TrendsView(QtWidgets.QWidget):
    sig_message = QtCore.Signal(str)
    sig_jump = QtCore.Signal(object)
    def open(self, p): pass
