"""Analysis: signal processing, operational modal analysis, tracking, damage, fatigue.

Public names load lazily so that ``import bshm.analysis`` stays cheap.
"""
