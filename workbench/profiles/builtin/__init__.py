"""Profiles shipped inside the package (found by name after ./profiles and the user dir)."""
