"""workbench.profiles"""
