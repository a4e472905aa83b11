"""Calibration: vLLM's measured figures after real loads, used to correct the next estimate.

Keyed by (GPU name, vLLM version, architecture/quantization). Stored as JSON in the user's data
dir; written atomically (temp file + rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts, read_model_facts
from workbench.estimate.gpus import GpuSpec, lookup_gpu
from workbench.estimate.model import (
    CUDA_RESERVED_BYTES,
    EstimateSettings,
    activation_bytes,
    cuda_graph_bytes,
    non_torch_bytes,
    scheduler_limits,
    weights_per_gpu,
)
from workbench.files import write_atomic

SCHEMA_VERSION = 1
MAX_RECORDS_PER_KEY = 20


class FiguresLike(Protocol):
    """The fields of workbench.engine.api.EngineFigures that calibration reads (read-only)."""

    @property
    def kv_cache_tokens(self) -> int | None: ...
    @property
    def num_blocks(self) -> int | None: ...
    @property
    def block_size(self) -> int: ...
    @property
    def available_kv_bytes(self) -> int | None: ...
    @property
    def weights_bytes(self) -> int | None: ...
    @property
    def max_model_len(self) -> int: ...


@dataclass(frozen=True)
class Correction:
    """What past loads say about the next one for the same key."""

    loads: int
    overhead_delta_bytes: int
    """Measured non-KV memory minus our predicted non-KV memory, averaged (bytes, may be < 0)."""
    weights_bytes: int | None
    """Measured weights per GPU (the latest load), if vLLM reported it."""
    kv_tokens: tuple[int, ...]


def calibration_key(gpu_name: str, vllm_version: str | None, facts: ModelFacts) -> str:
    """ "<gpu> | <vllm version> | <architecture>/<quantization>"."""
    return f"{gpu_name} | {vllm_version or 'any'} | {facts.architecture_key}"


class CalibrationStore:
    """Load records in ``data_dir()/calibration.json`` (or ``path``)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from workbench.paths import data_dir

            path = data_dir() / "calibration.json"
        self.path = path

    def _read(self) -> dict[str, list[dict[str, Any]]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EstimateError(
                f"{self.path}: unreadable calibration file ({exc}); delete it to start over"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("records"), dict):
            raise EstimateError(f"{self.path}: not a workbench calibration file; delete it")
        records: dict[str, list[dict[str, Any]]] = data["records"]
        return records

    def _write(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(
            {"version": SCHEMA_VERSION, "records": records}, indent=1, sort_keys=True
        )
        write_atomic(self.path, payload)

    def records(self, key: str) -> list[dict[str, Any]]:
        """The stored loads for one key, oldest first."""
        return list(self._read().get(key, []))

    def keys(self) -> list[str]:
        """Every key with at least one load."""
        return sorted(self._read())

    def record(self, key: str, entry: dict[str, Any]) -> None:
        """Append one load record under ``key`` (keeps the last 20)."""
        records = self._read()
        bucket = records.setdefault(key, [])
        bucket.append(entry)
        del bucket[:-MAX_RECORDS_PER_KEY]
        self._write(records)

    def record_load(
        self,
        facts_or_model_dir: ModelFacts | Path | str,
        gpu_name: str,
        vllm_version: str,
        figures: FiguresLike,
        settings: EstimateSettings,
        *,
        total_bytes: int | None = None,
    ) -> str:
        """Store what vLLM measured after a successful load; returns the key.

        ``figures`` are per GPU, as vLLM's worker logs them (weights_bytes = "Model loading took
        X GiB" of one rank; available_kv_bytes = "Available KV cache memory").

        ``total_bytes`` is the GPU's total memory (NVML); without it the built-in GPU table is
        used, and with neither only the weights and KV figures are kept.
        """
        facts = (
            facts_or_model_dir
            if isinstance(facts_or_model_dir, ModelFacts)
            else read_model_facts(Path(facts_or_model_dir))
        )
        key = calibration_key(gpu_name, vllm_version, facts)
        if total_bytes is None and gpu_name != "cpu":
            known = lookup_gpu(gpu_name)
            total_bytes = known.total_bytes if known else None
        entry: dict[str, Any] = {
            "kv_cache_tokens": figures.kv_cache_tokens,
            "num_blocks": figures.num_blocks,
            "block_size": figures.block_size,
            "available_kv_bytes": figures.available_kv_bytes,
            "weights_bytes": figures.weights_bytes,
            "max_model_len": figures.max_model_len,
            "gpu_memory_utilization": settings.gpu_memory_utilization,
            "total_bytes": total_bytes,
            "overhead_delta_bytes": None,
        }
        explicit_kv = settings.kv_cache_memory_bytes is not None or gpu_name == "cpu"
        if total_bytes and figures.available_kv_bytes is not None and not explicit_kv:
            gpu = GpuSpec(gpu_name, total_bytes)
            weights = (
                figures.weights_bytes
                if figures.weights_bytes is not None
                else weights_per_gpu(facts, settings)
            )
            max_len = settings.max_model_len or figures.max_model_len or facts.derived_max_model_len
            batched, seqs = scheduler_limits(gpu, settings, max_len)
            predicted_other = (
                non_torch_bytes(settings)
                + activation_bytes(facts, settings, batched, seqs)
                + cuda_graph_bytes(facts, settings, seqs)
            )
            budget = int((total_bytes - CUDA_RESERVED_BYTES) * settings.gpu_memory_utilization)
            measured_other = budget - weights - figures.available_kv_bytes
            entry["overhead_delta_bytes"] = measured_other - predicted_other
        self.record(key, entry)
        return key

    def correction_for(
        self,
        *,
        gpu_name: str,
        vllm_version: str | None,
        facts: ModelFacts,
        settings: EstimateSettings | None = None,
    ) -> Correction | None:
        """The correction for this key, or None with no records. ``vllm_version`` None matches
        any version (the newest records first)."""
        del settings
        records = self._read()
        if vllm_version is None:
            suffix = f" | {facts.architecture_key}"
            prefix = f"{gpu_name} | "
            found = [
                r
                for k, rs in records.items()
                if k.startswith(prefix) and k.endswith(suffix)
                for r in rs
            ]
        else:
            found = records.get(calibration_key(gpu_name, vllm_version, facts), [])
        if not found:
            return None
        deltas = [
            r["overhead_delta_bytes"]
            for r in found
            if isinstance(r.get("overhead_delta_bytes"), int)
        ]
        weights = [r["weights_bytes"] for r in found if isinstance(r.get("weights_bytes"), int)]
        tokens = tuple(
            r["kv_cache_tokens"] for r in found if isinstance(r.get("kv_cache_tokens"), int)
        )
        return Correction(
            loads=len(found),
            overhead_delta_bytes=sum(deltas) // len(deltas) if deltas else 0,
            weights_bytes=weights[-1] if weights else None,
            kv_tokens=tokens,
        )
