"""Chat logic without a UI: the conversation model, answer summary, doctor, autosave and export.

Pure: no textual, vllm or torch imports.
"""
