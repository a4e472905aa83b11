"""`python -m workbench` — same as the `workbench` console script."""

from workbench.cli import main

if __name__ == "__main__":  # spawn-safe: vLLM's CPU engine re-imports __main__ in children
    raise SystemExit(main())
