"""workbench.demo"""
