"""workbench: a Textual workbench for vLLM."""
