"""workbench.gpu"""
