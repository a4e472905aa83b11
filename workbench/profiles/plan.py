"""The deployment a profile describes, as the commands its machines run and a Helm values file.

Pure. Built on ``to_serve`` (the profile's engine, sampling and chat settings as ``vllm serve``
flags), then laid out over [deployment] nodes: vLLM's multiprocessing backend starts the same
``vllm serve`` on every machine with ``--nnodes/--node-rank/--master-addr`` (``--headless`` on
all but the first); the Ray backend starts a Ray cluster and one ``vllm serve
--distributed-executor-backend ray`` on its head. The values file targets vLLM's
production-stack chart (``servingEngineSpec.modelSpec``; KubeRay when the model spans nodes).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench.profiles.errors import ProfileError
from workbench.profiles.serve import to_serve

MASTER_PORT = 29501
RAY_PORT = 6379


@dataclass(frozen=True)
class NodeCommand:
    """What one machine runs, in order."""

    node: str
    commands: tuple[tuple[str, ...], ...]
    env: tuple[tuple[str, str], ...] = ()

    def shell(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        lines = []
        for argv in self.commands:
            # "$VAR" stays unquoted-expandable: the key is read on the machine, never written
            text = " ".join(a if a.startswith('"$') else shlex.quote(a) for a in argv)
            lines.append(f"{env} {text}" if env and argv[:2] == ("vllm", "serve") else text)
        return "\n".join(lines)


@dataclass(frozen=True)
class DeploymentPlan:
    nodes: tuple[NodeCommand, ...]
    world_size: int
    notes: tuple[str, ...] = ()

    def shell(self) -> str:
        """Every machine's commands, each under a comment naming it."""
        return "\n\n".join(f"# {node.node}\n{node.shell()}" for node in self.nodes)


def _deployment(data: Mapping[str, Any]) -> dict[str, Any]:
    deployment = data.get("deployment")
    if not isinstance(deployment, Mapping):
        raise ProfileError(
            "has no [deployment]",
            key="deployment",
            hint='add [deployment] with url = "http://HOST:8000" (and nodes, backend)',
        )
    return dict(deployment)


def plan_deployment(data: Mapping[str, Any], base_dir: Path) -> DeploymentPlan:
    """The commands each machine of the profile's [deployment] runs; raises ProfileError when
    the GPUs do not add up."""
    deployment = _deployment(data)
    engine = dict(data.get("engine", {}))
    tp = int(engine.get("tensor_parallel_size", 1))
    pp = int(engine.get("pipeline_parallel_size", 1))
    dp = int(deployment.get("data_parallel_size", 1))
    nodes = int(deployment.get("nodes", 1))
    world = tp * pp * dp
    per_node = deployment.get("gpus_per_node")
    if world % nodes:
        raise ProfileError(
            f"{world} GPUs (tensor {tp} × pipeline {pp} × data {dp}) do not split over "
            f"{nodes} nodes",
            key="deployment.nodes",
            hint="pick a node count that divides the GPU count, or change the parallel sizes",
        )
    if per_node is not None and int(per_node) * nodes != world:
        raise ProfileError(
            f"{nodes} nodes × {per_node} GPUs = {int(per_node) * nodes}, but tensor {tp} × "
            f"pipeline {pp} × data {dp} = {world}",
            key="deployment.gpus_per_node",
            hint="vLLM uses exactly tp × pp × dp GPUs: make the two agree",
        )
    url = urlsplit(str(deployment["url"]))
    head = str(deployment.get("head_address") or url.hostname or "HEAD")
    serve = to_serve(data, base_dir)
    argv = list(serve.argv)
    model = deployment.get("model")
    if model and "--served-model-name" not in argv:
        argv += ["--served-model-name", str(model)]
    argv += ["--host", "0.0.0.0", "--port", str(url.port or 8000)]
    if deployment.get("api_key_env"):
        argv += ["--api-key", f'"${deployment["api_key_env"]}"']
    if dp > 1:
        argv += ["--data-parallel-size", str(dp)]
    env = tuple(sorted(serve.env.items()))
    notes = list(
        serve.not_expressible
        and ["per request, not in these commands: " + ", ".join(serve.not_expressible)]
    )
    if nodes == 1:
        return DeploymentPlan(
            (NodeCommand(f"{head} (the only node)", (tuple(argv),), env),), world, tuple(notes)
        )
    if deployment.get("backend", "mp") == "ray":
        ray_head = ("ray", "start", "--head", "--port", str(RAY_PORT))
        join = ("ray", "start", "--address", f"{head}:{RAY_PORT}")
        serve_ray = (*argv, "--distributed-executor-backend", "ray")
        machines = [
            NodeCommand(f"{head} (node 0: Ray head and API server)", (ray_head, serve_ray), env)
        ]
        machines += [
            NodeCommand(f"node {rank} (joins the Ray cluster)", (join,)) for rank in range(1, nodes)
        ]
        notes.append(
            "start the Ray workers before `vllm serve`; every node needs the same "
            "model files, vLLM version and Python environment"
        )
        return DeploymentPlan(tuple(machines), world, tuple(notes))
    machines = []
    for rank in range(nodes):
        flags = [
            "--nnodes",
            str(nodes),
            "--node-rank",
            str(rank),
            "--master-addr",
            head,
            "--master-port",
            str(MASTER_PORT),
        ]
        if rank:
            flags.append("--headless")
        label = f"{head} (node 0: API server)" if rank == 0 else f"node {rank} (headless)"
        machines.append(NodeCommand(label, (tuple(argv + flags),), env))
    notes.append(
        "every node runs the same command with its own --node-rank; only node 0 serves HTTP"
    )
    return DeploymentPlan(tuple(machines), world, tuple(notes))


def helm_values(data: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """A values file for vLLM's production-stack Helm chart serving this profile."""
    deployment = _deployment(data)
    plan = plan_deployment(data, base_dir)
    engine = dict(data.get("engine", {}))
    model = dict(data.get("model", {}))
    tp = int(engine.get("tensor_parallel_size", 1))
    pp = int(engine.get("pipeline_parallel_size", 1))
    nodes = int(deployment.get("nodes", 1))
    argv = list(to_serve(data, base_dir).argv)
    handled = {
        "--tensor-parallel-size",
        "--pipeline-parallel-size",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--dtype",
    }
    extra: list[str] = []
    index = 3
    while index < len(argv):
        flag = argv[index]
        has_value = index + 1 < len(argv) and not argv[index + 1].startswith("--")
        if flag not in handled:
            extra += [flag, argv[index + 1]] if has_value else [flag]
        index += 2 if has_value else 1
    vllm_config: dict[str, Any] = {"tensorParallelSize": tp}
    if pp > 1:
        vllm_config["pipelineParallelSize"] = pp
    if "max_model_len" in engine:
        vllm_config["maxModelLen"] = engine["max_model_len"]
    vllm_config["gpuMemoryUtilization"] = engine.get("gpu_memory_utilization", 0.9)
    if model.get("dtype") not in (None, "auto"):
        vllm_config["dtype"] = model["dtype"]
    if extra:
        vllm_config["extraArgs"] = extra
    per_node = plan.world_size // max(1, nodes) // int(deployment.get("data_parallel_size", 1))
    spec: dict[str, Any] = {
        "name": str(deployment.get("model") or model.get("id") or "model").split("/")[-1].lower(),
        "repository": "vllm/vllm-openai",
        "tag": "v0.32.0",
        "modelURL": str(model.get("id") or argv[2]),
        "replicaCount": int(deployment.get("data_parallel_size", 1)),
        "requestCPU": 8 * max(1, per_node),
        "requestMemory": f"{32 * max(1, per_node)}Gi",
        "requestGPU": per_node if nodes > 1 else tp * pp,
        "vllmConfig": vllm_config,
        "shmSize": "20Gi",
    }
    key_env = deployment.get("api_key_env")
    if key_env:
        # the key comes from a Kubernetes secret into the container's environment, and
        # Kubernetes expands $(VAR) in the container's arguments: it is never in the values
        vllm_config.setdefault("extraArgs", []).extend(["--api-key", f"$({key_env})"])
        spec["env"] = [
            {
                "name": str(key_env),
                "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "key"}},
            }
        ]
    values: dict[str, Any] = {"servingEngineSpec": {"modelSpec": [spec]}}
    if nodes > 1:
        spec["raySpec"] = {
            "enabled": True,
            "headNode": {
                "requestCPU": spec["requestCPU"],
                "requestMemory": spec["requestMemory"],
                "requestGPU": per_node,
            },
        }
        values["servingEngineSpec"]["enableKubeRay"] = True
    return values
