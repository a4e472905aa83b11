"""A Hugging Face Hub stand-in on 127.0.0.1 that speaks the file API huggingface_hub uses.

``HEAD``/``GET /{org}/{name}/resolve/{revision}/{filename}`` with the headers the real Hub sends
(``X-Repo-Commit``, ``ETag``, ``Content-Length``; ``206`` + ``Content-Range`` for range requests)
and its error codes (``X-Error-Code``: RepoNotFound, GatedRepo, EntryNotFound, RevisionNotFound).
Repos hold real config.json files (tests/data/models) and safetensors files that are only a
header: the header's ``data_offsets`` describe the real tensors, and a range request for the
first 100 kB is all a metadata reader ever asks for. Every request is logged, so a test can
check that nothing but metadata was read and that a cached read made no request at all.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def safetensors_header_only(tensors: dict[str, tuple[str, list[int]]]) -> tuple[bytes, int]:
    """(a safetensors file holding only its header, the tensor bytes the header describes)."""
    sizes = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4, "U8": 1, "F8_E4M3": 1}
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        size = count * sizes[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, offset


def llama_like_tensors(
    config: dict[str, Any], dtype: str = "BF16"
) -> dict[str, tuple[str, list[int]]]:
    """The tensor names and shapes of a Llama/Qwen-style checkpoint for ``config``."""
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    tensors: dict[str, tuple[str, list[int]]] = {
        "model.embed_tokens.weight": (dtype, [config["vocab_size"], hidden]),
        "model.norm.weight": (dtype, [hidden]),
    }
    if not config.get("tie_word_embeddings"):
        tensors["lm_head.weight"] = (dtype, [config["vocab_size"], hidden])
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": (dtype, [heads * head_dim, hidden]),
            p + "self_attn.k_proj.weight": (dtype, [kv * head_dim, hidden]),
            p + "self_attn.v_proj.weight": (dtype, [kv * head_dim, hidden]),
            p + "self_attn.o_proj.weight": (dtype, [hidden, heads * head_dim]),
            p + "mlp.gate_proj.weight": (dtype, [inter, hidden]),
            p + "mlp.up_proj.weight": (dtype, [inter, hidden]),
            p + "mlp.down_proj.weight": (dtype, [hidden, inter]),
            p + "input_layernorm.weight": (dtype, [hidden]),
            p + "post_attention_layernorm.weight": (dtype, [hidden]),
        }
    return tensors


@dataclass
class Repo:
    files: dict[str, bytes]
    gated: bool = False
    commit: str = COMMIT


@dataclass
class HubServer:
    """A running stand-in; ``endpoint`` goes into HF_ENDPOINT."""

    repos: dict[str, Repo]
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header) of every request, in order."""
    endpoint: str = ""

    def add_model(
        self,
        repo_id: str,
        config: dict[str, Any],
        *,
        shards: int = 1,
        gated: bool = False,
        safetensors: bool = True,
    ) -> int:
        """Serve ``config`` and header-only safetensors for it; return the tensor bytes."""
        files = {"config.json": json.dumps(config).encode()}
        total = 0
        if safetensors:
            tensors = list(llama_like_tensors(config).items())
            if shards == 1:
                files["model.safetensors"], total = safetensors_header_only(dict(tensors))
            else:
                weight_map: dict[str, str] = {}
                per = -(-len(tensors) // shards)
                for index in range(shards):
                    name = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
                    part = dict(tensors[index * per : (index + 1) * per])
                    files[name], size = safetensors_header_only(part)
                    total += size
                    weight_map |= dict.fromkeys(part, name)
                index_json = {"metadata": {"total_size": total}, "weight_map": weight_map}
                files["model.safetensors.index.json"] = json.dumps(index_json).encode()
        self.repos[repo_id] = Repo(files, gated=gated)
        return total


def _handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _error(self, status: int, code: str, message: str) -> None:
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            payload = json.dumps({"error": message}).encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(payload)

        def _serve(self, *, body: bool) -> None:
            server.requests.append((self.command, self.path, self.headers.get("Range")))
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                self._error(404, "RepoNotFound", "unknown route")
                return
            repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            repo = server.repos.get(repo_id)
            if repo is None:
                self._error(401, "RepoNotFound", "Repository Not Found")
                return
            if repo.gated and not self.headers.get("Authorization"):
                self._error(403, "GatedRepo", f"Access to model {repo_id} is restricted.")
                return
            if revision not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                return
            content = repo.files.get(filename)
            if content is None:
                self._error(404, "EntryNotFound", f"{filename} does not exist")
                return
            status, chunk = 200, content
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes="):
                start_text, _, end_text = wanted[6:].partition("-")
                start = int(start_text)
                end = min(int(end_text) if end_text else len(content) - 1, len(content) - 1)
                status, chunk = 206, content[start : end + 1]
            self.send_response(status)
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", '"' + hashlib.sha1(content).hexdigest() + '"')
            self.send_header("Content-Length", str(len(chunk)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(content)}")
            self.end_headers()
            if body:
                self.wfile.write(chunk)

    return Handler


def serve_hub() -> Iterator[HubServer]:
    """Start a stand-in Hub on a free port of 127.0.0.1 (a generator for a pytest fixture)."""
    hub = HubServer(repos={})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        httpd.shutdown()
        httpd.server_close()
