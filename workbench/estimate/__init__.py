"""workbench.estimate"""
