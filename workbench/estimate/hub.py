"""Model facts from the Hugging Face Hub: config.json and safetensors headers, never weights.

huggingface_hub does the talking: ``hf_hub_download`` fetches config.json (and, when the repo
has them, tokenizer_config.json and hf_quant_config.json) into the HF cache;
``get_safetensors_metadata`` reads every safetensors header with range requests (a few KB per
file). The headers' byte total is kept in workbench's data dir (``<data dir>/hub-weights``),
keyed by the repo's commit, so a second estimate of the same model works offline.

``HF_HUB_OFFLINE=1`` (or ``offline=True``) is honoured: only the HF cache is read. ``HF_ENDPOINT``
and ``HF_HUB_OFFLINE`` are read when a call is made, not at import time, so a test can point at a
local server; the token (HF_TOKEN) is huggingface_hub's business and never appears in a message.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import (
    ModelFacts,
    WeightsSource,
    facts_from_files,
    is_quantized,
    loaded_tensor_bytes,
)
from workbench.files import write_atomic
from workbench.model_config import tokenizer_max_length

_OPTIONAL_FILES = ("tokenizer_config.json", "hf_quant_config.json")
_TRUE = {"1", "ON", "YES", "TRUE"}
OFFLINE_HINT = (
    "unset HF_HUB_OFFLINE (drop --offline) to read config.json and the safetensors headers "
    "from the Hub (a few KB, no weights), or add [model.facts] with `workbench profiles facts "
    "NAME --write` on a machine that has the model"
)


@dataclass(frozen=True)
class HubFacts:
    """Facts read from the Hub (or its local cache), and at which commit."""

    facts: ModelFacts
    repo_id: str
    commit: str | None
    notes: tuple[str, ...] = ()


def hub_offline(environ: dict[str, str] | None = None) -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub reads it, but read now."""
    env = os.environ if environ is None else environ
    value = env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in _TRUE


def hub_endpoint() -> str:
    """The Hub the environment names now (HF_ENDPOINT), without a trailing slash."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def fetch_hub_facts(
    repo_id: str, revision: str | None = None, *, offline: bool | None = None
) -> HubFacts:
    """Facts for ``repo_id`` from the Hub's metadata files; raises EstimateError (one line)."""
    from workbench.profiles.models import hf_hub_cache_dir

    offline = hub_offline() if offline is None else offline
    cache_dir = hf_hub_cache_dir()
    where = f"{repo_id}@{revision}" if revision else repo_id
    notes: list[str] = []
    with _quiet_hub_library():
        silence = None if offline else _no_answer(repo_id, revision)
        if silence is not None:
            if _cached_config(repo_id, revision, cache_dir) is None:
                raise hub_error(silence, repo_id, revision, "config.json", False)
            offline = True
            notes.append(f"the Hub at {hub_endpoint()} did not answer: cached metadata used")
        return _fetch(repo_id, revision, offline, cache_dir, where, notes)


def _no_answer(repo_id: str, revision: str | None) -> Exception | None:
    """One HEAD for config.json without huggingface_hub's retries (which wait ~25 s when there
    is no network): the network error when nothing answers, else None; an answer that is an
    error (gated, missing) is for the download that follows to raise."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    url = hf_hub_url(repo_id, "config.json", revision=revision, endpoint=hub_endpoint())
    try:
        get_hf_file_metadata(url, timeout=10)
    except HfHubHTTPError:
        return None
    except Exception as exc:  # noqa: BLE001 - httpx's connect/timeout errors, DNS, TLS
        return ConnectionError(_root_cause(exc))
    return None


def _cached_config(repo_id: str, revision: str | None, cache_dir: str | None) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir, revision=revision)
    return found if isinstance(found, str) else None


@contextmanager
def _quiet_hub_library() -> Iterator[None]:
    """huggingface_hub's retry warnings and progress bars go to stderr, which is the app's
    screen; the one-line errors here say what matters."""
    from huggingface_hub.utils import logging as hub_logging
    from huggingface_hub.utils.tqdm import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    logger = hub_logging.get_logger()
    level = logger.level
    quiet_already = are_progress_bars_disabled()
    logger.setLevel(logging.ERROR)
    disable_progress_bars()
    try:
        yield
    finally:
        logger.setLevel(level)
        if not quiet_already:
            enable_progress_bars()


def _fetch(
    repo_id: str,
    revision: str | None,
    offline: bool,
    cache_dir: str | None,
    where: str,
    notes: list[str],
) -> HubFacts:
    config_path = Path(_download(repo_id, "config.json", revision, offline, cache_dir))
    snapshot = config_path.parent
    commit = snapshot.name if snapshot.parent.name == "snapshots" else None
    for name in _OPTIONAL_FILES:
        _download_optional(repo_id, name, revision, offline, cache_dir)
    config = _read_json(config_path, where)
    hf_quant_path = snapshot / "hf_quant_config.json"
    hf_quant = _read_json(hf_quant_path, where) if hf_quant_path.is_file() else None
    quantized = is_quantized(config, hf_quant)
    weights, source = _cached_weights(repo_id, commit)
    if weights is None:
        if offline:
            notes.append(
                "weight bytes estimated from config.json: the safetensors headers were never "
                "read (Hub access is off)"
            )
        else:
            weights, source, note = _weights_from_headers(repo_id, revision, quantized)
            if note:
                notes.append(note)
            if weights is not None and commit is not None:
                _store_weights(repo_id, commit, weights, source)
    facts = facts_from_files(
        config,
        weights,
        source,
        source=f"hub:{repo_id}" + (f"@{commit}" if commit else ""),
        tokenizer_max=tokenizer_max_length(snapshot),
        hf_quant=hf_quant if isinstance(hf_quant, dict) else None,
    )
    return HubFacts(facts=facts, repo_id=repo_id, commit=commit, notes=tuple(notes))


def _read_json(path: Path, where: str) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EstimateError(
            f"{where}: {path.name} from the Hub is not valid JSON ({exc})"
        ) from None


def _download(
    repo_id: str, filename: str, revision: str | None, offline: bool, cache_dir: str | None
) -> str:
    try:
        return _raw_download(repo_id, filename, revision, offline, cache_dir)
    except Exception as exc:
        raise hub_error(exc, repo_id, revision, filename, offline) from None


def _raw_download(
    repo_id: str, filename: str, revision: str | None, offline: bool, cache_dir: str | None
) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(
        repo_id,
        filename,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=offline,
        endpoint=None if offline else hub_endpoint(),
    )


def _download_optional(
    repo_id: str, filename: str, revision: str | None, offline: bool, cache_dir: str | None
) -> None:
    """Fetch a file most repos have; one that is not there (or not cached offline) is fine."""
    from huggingface_hub.errors import EntryNotFoundError

    try:
        _raw_download(repo_id, filename, revision, offline, cache_dir)
    except EntryNotFoundError:
        return
    except Exception as exc:
        raise hub_error(exc, repo_id, revision, filename, offline) from None


def hub_error(
    exc: Exception, repo_id: str, revision: str | None, filename: str, offline: bool
) -> EstimateError:
    """One line for what huggingface_hub raised, with what to do."""
    from huggingface_hub import errors
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # huggingface_hub >= 1.0 tells a file missing on the Hub from one missing in the cache
    remote_missing = getattr(errors, "RemoteEntryNotFoundError", EntryNotFoundError)

    where = f"{repo_id}@{revision}" if revision else repo_id
    endpoint = hub_endpoint()
    error: EstimateError
    if isinstance(exc, GatedRepoError):
        error = EstimateError(
            f"{where} is gated on the Hub: accept its terms on its model page and set HF_TOKEN "
            "(or run `hf auth login`); only config.json and the headers are read"
        )
    elif isinstance(exc, RevisionNotFoundError):
        error = EstimateError(f"{where}: the Hub has no revision {revision!r} of {repo_id}")
    elif isinstance(exc, RepositoryNotFoundError):
        error = EstimateError(
            f"{where}: no such model on the Hub ({endpoint}); check the id, or set HF_TOKEN "
            "if it is private"
        )
    elif isinstance(exc, remote_missing) and not isinstance(exc, LocalEntryNotFoundError):
        error = EstimateError(
            f"{where} has no {filename} on the Hub; is it a transformers model repo?"
        )
    elif offline or isinstance(exc, OfflineModeIsEnabled):
        error = EstimateError(
            f"{where} is not on this machine and Hub access is off; {OFFLINE_HINT}"
        )
    elif isinstance(exc, LocalEntryNotFoundError | EntryNotFoundError | OSError):
        # huggingface_hub turns a failed connection into LocalEntryNotFoundError when the file
        # is not cached either
        reason = _root_cause(exc)
        error = EstimateError(
            f"{where}: cannot reach the Hub at {endpoint} ({reason}); check the network or "
            "HF_ENDPOINT, or add [model.facts] to the profile"
        )
    else:
        error = EstimateError(
            f"{where}: reading {filename} from the Hub failed: {_root_cause(exc)}"
        )
    error.__context__ = exc
    return error


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _weights_from_headers(
    repo_id: str, revision: str | None, quantized: bool
) -> tuple[int | None, WeightsSource | None, str | None]:
    """Exact loaded bytes from every safetensors header (range requests), or a note why not."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import NotASafetensorsRepoError, SafetensorsParsingError

    try:
        metadata = HfApi(endpoint=hub_endpoint()).get_safetensors_metadata(
            repo_id, revision=revision
        )
    except NotASafetensorsRepoError:
        return None, None, "no safetensors files on the Hub: weight bytes estimated from config"
    except SafetensorsParsingError as exc:
        raise EstimateError(
            f"{repo_id}: unreadable safetensors header on the Hub ({exc})"
        ) from None
    except Exception as exc:
        raise hub_error(exc, repo_id, revision, "model.safetensors", False) from None
    total = 0
    for file_metadata in metadata.files_metadata.values():
        for tensor in file_metadata.tensors.values():
            begin, end = tensor.data_offsets
            total += loaded_tensor_bytes(tensor.dtype, end - begin, loaded_as_16bit=not quantized)
    return total, "headers", None


def _weights_cache_path(repo_id: str, commit: str) -> Path:
    return paths.data_dir() / "hub-weights" / repo_id.replace("/", "--") / f"{commit}.json"


def _cached_weights(repo_id: str, commit: str | None) -> tuple[int | None, WeightsSource | None]:
    if commit is None:
        return None, None
    try:
        data = json.loads(_weights_cache_path(repo_id, commit).read_text("utf-8"))
        return int(data["weight_bytes"]), "headers"
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _store_weights(repo_id: str, commit: str, weights: int, source: WeightsSource | None) -> None:
    path = _weights_cache_path(repo_id, commit)
    payload = {"repo_id": repo_id, "commit": commit, "weight_bytes": weights, "source": source}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(payload, indent=2) + "\n")
    except OSError:
        pass  # a cache that cannot be written only costs a second read of the headers
