"""`workbench profiles plan`: every machine's command is one vLLM's own `vllm serve` parser
accepts, with the topology the profile asks for; the Helm values say the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main
from workbench.profiles import ProfileError, load_profile
from workbench.profiles.plan import helm_values, plan_deployment

REPO = Path(__file__).resolve().parents[2]
TEAM = REPO / "profiles" / "qwen3-32b-team.toml"


def vllm_serve_args(argv: tuple[str, ...]) -> Any:
    """``vllm serve MODEL FLAGS`` parsed by vLLM's own serve argument parser."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    assert argv[:2] == ("vllm", "serve")
    flags = [a.strip('"') for a in argv[3:]]
    parser = FlexibleArgumentParser()  # type: ignore[no-untyped-call]
    return make_arg_parser(parser).parse_args(["--model", argv[2], *flags])


def profile(tmp_path: Path, deployment: str, engine: str = "tensor_parallel_size = 4") -> Any:
    path = tmp_path / "p.toml"
    path.write_text(
        f'[model]\nid = "Qwen/Qwen3-32B"\n[engine]\n{engine}\n'
        f'[deployment]\nurl = "http://10.0.0.1:9000"\n{deployment}\n',
        "utf-8",
    )
    return load_profile(path)


def test_multiprocessing_over_two_nodes(tmp_path: Path) -> None:
    loaded = profile(tmp_path, "nodes = 2", "tensor_parallel_size = 4\npipeline_parallel_size = 2")
    plan = plan_deployment(loaded.data, loaded.path.parent)
    assert plan.world_size == 8 and len(plan.nodes) == 2
    for rank, node in enumerate(plan.nodes):
        (argv,) = node.commands
        args = vllm_serve_args(argv)
        assert (args.nnodes, args.node_rank, args.master_addr) == (2, rank, "10.0.0.1")
        assert args.headless is (rank > 0)
        assert (args.tensor_parallel_size, args.pipeline_parallel_size) == (4, 2)
        assert args.port == 9000


def test_ray_over_two_nodes_is_the_shipped_team_profile() -> None:
    loaded = load_profile(TEAM)
    plan = plan_deployment(loaded.data, loaded.path.parent)
    head, worker = plan.nodes
    assert head.commands[0] == ("ray", "start", "--head", "--port", "6379")
    args = vllm_serve_args(head.commands[1])
    assert args.distributed_executor_backend == "ray"
    assert args.served_model_name == ["qwen3-32b"] and args.reasoning_parser == "qwen3"
    assert args.api_key == ["$VLLM_API_KEY"]  # the variable, expanded on the machine
    assert worker.commands == (("ray", "start", "--address", "gpu-head:6379"),)
    assert '"$VLLM_API_KEY"' in head.shell()  # left for the shell to expand, not quoted away


def test_gpus_that_do_not_add_up_are_refused(tmp_path: Path) -> None:
    loaded = profile(tmp_path, "nodes = 3")
    with pytest.raises(ProfileError, match="4 GPUs .* do not split over 3 nodes"):
        plan_deployment(loaded.data, loaded.path.parent)
    loaded = profile(tmp_path, "nodes = 2\ngpus_per_node = 4")
    with pytest.raises(ProfileError, match="2 nodes × 4 GPUs = 8, but tensor 4"):
        plan_deployment(loaded.data, loaded.path.parent)


def test_data_parallel_and_helm_values(tmp_path: Path) -> None:
    loaded = profile(tmp_path, "data_parallel_size = 2", "tensor_parallel_size = 2")
    (node,) = plan_deployment(loaded.data, loaded.path.parent).nodes
    assert vllm_serve_args(node.commands[0]).data_parallel_size == 2
    values = helm_values(loaded.data, loaded.path.parent)
    (spec,) = values["servingEngineSpec"]["modelSpec"]
    assert spec["replicaCount"] == 2 and spec["requestGPU"] == 2
    assert spec["vllmConfig"]["tensorParallelSize"] == 2
    team = load_profile(TEAM)
    (team_spec,) = helm_values(team.data, team.path.parent)["servingEngineSpec"]["modelSpec"]
    assert team_spec["raySpec"]["enabled"] and team_spec["vllmConfig"]["pipelineParallelSize"] == 2
    assert "$(VLLM_API_KEY)" in team_spec["vllmConfig"]["extraArgs"]


def test_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["profiles", "plan", str(TEAM)]) == 0
    out = capsys.readouterr().out
    assert "# qwen3-32b-team: 8 GPUs on 2 node(s)" in out and "ray start --head" in out
    assert main(["profiles", "plan", str(TEAM), "--helm"]) == 0
    import yaml

    assert yaml.safe_load(capsys.readouterr().out)["servingEngineSpec"]["enableKubeRay"]
    local = tmp_path / "local.toml"
    local.write_text('[model]\nid = "a/b"\n', "utf-8")
    assert main(["profiles", "plan", str(local)]) == 2
    assert "has no [deployment]" in capsys.readouterr().err
