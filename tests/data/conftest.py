"""Fixtures of the data-layer tests: a tiny generated corpus and helpers for raw input files."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from omegaconf import DictConfig

TINY_EMBEDDED = [
    "data=embedded",
    "data.vocab_size=300",
    "data.embedded.n_train=600",
    "data.embedded.n_dev=40",
    "data.embedded.n_test=70",  # 10 per length bucket
    "data.embedded.lexicon_size=400",
]


@pytest.fixture
def tiny_cfg(compose_cfg: Callable[..., DictConfig]) -> Callable[..., DictConfig]:
    """Compose the tiny embedded-corpus config (all paths under tmp_path) plus overrides."""

    def _make(*overrides: str) -> DictConfig:
        return compose_cfg(*TINY_EMBEDDED, *overrides)

    return _make


@pytest.fixture
def write_raw() -> Callable[..., Path]:
    """Write raw split files: write_raw(dir, {"train.en": "text" | b"bytes", ...})."""

    def _write(raw_dir: Path, files: dict[str, str | bytes]) -> Path:
        raw_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (raw_dir / name).write_bytes(data)
        return raw_dir

    return _write


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any socket connection to a non-loopback address; ignore proxy settings."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def http_dir(tmp_path: Path, loopback_only: None) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1: yields (directory, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
