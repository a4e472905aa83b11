"""Profiles for a running deployment: ``--url`` on the command line, with or without a profile.

Pure. The result is validated exactly as a file would be (``validate_data``); nothing is written.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

from workbench.profiles.loader import LoadedProfile, validate_data


def deployment_profile(
    url: str,
    *,
    model: str | None = None,
    api_key_env: str | None = None,
    base: LoadedProfile | None = None,
) -> LoadedProfile:
    """``base`` (or an empty profile) pointed at the server at ``url``; raises ProfileError."""
    deployment = {"url": url, "model": model, "api_key_env": api_key_env}
    deployment = {key: value for key, value in deployment.items() if value is not None}
    if base is not None:
        data = copy.deepcopy(base.data)
        data["deployment"] = {**data.get("deployment", {}), **deployment}
        return validate_data(data, base.path, project_dir=base.project_dir, user_dir=base.user_dir)
    host = urlsplit(url).netloc or url
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", host).strip("-") or "deployment"
    data = {
        "meta": {"description": f"the deployment at {url}"},
        "model": {"id": model or name},
        "deployment": deployment,
    }
    return validate_data(data, Path.cwd() / f"{name}.toml")
