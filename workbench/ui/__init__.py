"""workbench.ui"""
