"""A stand-in for the Hugging Face Hub on 127.0.0.1: the endpoints huggingface_hub 2.4 calls to download.

``FakeHub`` serves repositories the test builds from folders (``add_revision``):

* ``GET /api/models/ORG/NAME[/revision/REV]?blobs=true``: the model info, with each file's
  size and hash (``siblings``: ``blobId``, and ``lfs.sha256`` for weights) and the commit (``sha``);
* ``HEAD`` and ``GET /ORG/NAME/resolve/REV/FILE``: the headers huggingface_hub reads
  (``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``/``X-Linked-Size`` for LFS files,
  ``Content-Length``), byte ranges (``Range: bytes=N-`` -> 206);
* a 404 with the Hub's ``X-Error-Code`` for an unknown repository, revision or file, and 401
  ``GatedRepo`` for a repository the test gates.

Switches: ``drop_connection(file, at_byte, times)`` closes the socket mid-body;
``requests`` records every request (method, path, file, Range header) so a test can check what
was asked for. Point huggingface_hub at it with ``HF_ENDPOINT=hub.url``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".model")
_WRITE_BLOCK = 64 * 1024


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    file: str | None  # the FILE of a resolve request
    range: str | None


@dataclass
class _Revision:
    commit: str
    files: dict[str, bytes]


@dataclass
class _Drop:
    at_byte: int
    times: int


@dataclass
class _State:
    repos: dict[str, dict[str, _Revision]] = field(default_factory=dict)  # repo -> revision name/commit -> files
    gated: set[str] = field(default_factory=set)
    drops: dict[str, _Drop] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def git_blob_id(data: bytes) -> str:
    """The git blob id the Hub gives a small file: sha1 of ``blob <size>\\0`` and the bytes."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def is_lfs(name: str) -> bool:
    return name.endswith(LFS_SUFFIXES)


def etag_of(name: str, data: bytes) -> str:
    """The file's etag as the Hub gives it: the LFS sha256 for weights, else the git blob id."""
    return hashlib.sha256(data).hexdigest() if is_lfs(name) else git_blob_id(data)


class FakeHub:
    """The server; use as a context manager (``with FakeHub() as hub``)."""

    def __init__(self) -> None:
        self._state = _State()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self._state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_revision(self, repo_id: str, folder: Path, revision: str = "main") -> str:
        """Serve the files under ``folder`` as ``revision`` of ``repo_id``; returns its commit hash."""
        files = {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
                 if path.is_file()}
        digest = hashlib.sha1(repo_id.encode() + revision.encode(), usedforsecurity=False)
        for name, data in files.items():
            digest.update(name.encode() + etag_of(name, data).encode())
        commit = digest.hexdigest()
        with self._state.lock:
            revisions = self._state.repos.setdefault(repo_id, {})
            revisions[revision] = revisions[commit] = _Revision(commit, files)
        return commit

    def gate(self, repo_id: str) -> None:
        """Answer 401 GatedRepo for ``repo_id`` from now on."""
        self._state.gated.add(repo_id)

    def drop_connection(self, file: str, at_byte: int, times: int = 1) -> None:
        """The next ``times`` GETs of ``file`` close the connection when they reach byte ``at_byte`` of it.

        A GET that starts at or beyond ``at_byte`` (a resumed one) gets no body at all before the
        drop: a connection that stays down there.
        """
        self._state.drops[file] = _Drop(at_byte, times)

    def restore_connection(self, file: str) -> None:
        """GETs of ``file`` are served in full again."""
        self._state.drops.pop(file, None)

    @property
    def requests(self) -> list[SeenRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def gets(self, file: str) -> list[SeenRequest]:
        """The GET requests of ``file`` so far."""
        return [seen for seen in self.requests if seen.method == "GET" and seen.file == file]


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def _answer(self, head: bool) -> None:
            raw_path = urlsplit(self.path).path
            parts = raw_path.strip("/").split("/")  # split before unquoting: refs%2Fpr%2F9 is one part
            method = "HEAD" if head else "GET"
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                self._record(method, raw_path, None)
                revision = unquote(parts[5]) if len(parts) >= 6 and parts[4] == "revision" else "main"
                self._model_info(f"{parts[2]}/{parts[3]}", revision)
            elif len(parts) >= 5 and parts[2] == "resolve":
                file = unquote("/".join(parts[4:]))
                self._record(method, raw_path, file)
                self._resolve(f"{parts[0]}/{parts[1]}", unquote(parts[3]), file, head)
            else:
                self._record(method, raw_path, None)
                self._error(404, "EntryNotFound", None)

        def _record(self, method: str, path: str, file: str | None) -> None:
            with state.lock:
                state.requests.append(SeenRequest(method, path, file, self.headers.get("Range")))

        def _find(self, repo_id: str, revision: str) -> _Revision | None:
            if repo_id not in state.repos:
                self._error(404, "RepoNotFound", None)
                return None
            if repo_id in state.gated:
                self._error(401, "GatedRepo", None)
                return None
            found = state.repos[repo_id].get(revision)
            if found is None:
                self._error(404, "RevisionNotFound", None)
            return found

        def _model_info(self, repo_id: str, revision: str) -> None:
            found = self._find(repo_id, revision)
            if found is None:
                return
            siblings = []
            for name, data in found.files.items():
                sibling = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
                if is_lfs(name):
                    sibling["lfs"] = {"sha256": etag_of(name, data), "size": len(data), "pointerSize": 134}
                siblings.append(sibling)
            body = json.dumps(
                {"id": repo_id, "modelId": repo_id, "sha": found.commit, "private": False, "gated": False,
                 "siblings": siblings}
            ).encode()
            self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)

        def _resolve(self, repo_id: str, revision: str, file: str, head: bool) -> None:
            found = self._find(repo_id, revision)
            if found is None:
                return
            data = found.files.get(file)
            if data is None:
                self._error(404, "EntryNotFound", found.commit)
                return
            etag = etag_of(file, data)
            headers = {"X-Repo-Commit": found.commit, "ETag": f'"{git_blob_id(data)}"', "Accept-Ranges": "bytes"}
            if is_lfs(file):
                headers |= {"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))}
            start = _range_start(self.headers.get("Range"))
            status = 206 if start else 200
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            headers["Content-Length"] = str(len(body))
            if head:
                self._send(status, headers, b"")
                return
            drop = state.drops.get(file)
            if drop is not None and drop.times > 0:
                drop.times -= 1
                self._send(status, headers, body[: max(drop.at_byte - start, 0)])
                self.close_connection = True
                return
            self._send(status, headers, body)

        def _error(self, status: int, code: str, commit: str | None) -> None:
            body = json.dumps({"error": code}).encode()
            headers = {"X-Error-Code": code, "Content-Type": "application/json", "Content-Length": str(len(body))}
            if commit:
                headers["X-Repo-Commit"] = commit
            self._send(status, headers, body)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                for offset in range(0, len(body), _WRITE_BLOCK):
                    self.wfile.write(body[offset : offset + _WRITE_BLOCK])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away (a cancelled download)

    return Handler


def _range_start(header: str | None) -> int:
    """N of ``bytes=N-`` (the only form huggingface_hub and vqadesk send), else 0."""
    if not header or not header.startswith("bytes="):
        return 0
    first = header[len("bytes="):].split("-", 1)[0]
    return int(first) if first.isdigit() else 0


def write_model_folder(
    folder: Path, architecture: str = "BlipForConditionalGeneration", weights: bytes | None = None,
    *, safetensors: bool = True, seed: int = 0,
) -> Path:
    """A repository's files as the Hub would hold them: ``config.json`` naming ``architecture``,
    tokenizer files, ``weights`` (random bytes by default) as ``model.safetensors`` (or only as the
    pickle ``pytorch_model.bin`` when ``safetensors`` is False), plus files loading does not need."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    if weights is None:
        weights = random.Random(seed).randbytes(2 * 1024 * 1024 + 123)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "test"}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 32}))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\na\nphoto\n")
    (folder / "README.md").write_text("# a test model\n")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02 not really a pickle" + weights[:64])
    if safetensors:
        (folder / "model.safetensors").write_bytes(weights)
    return folder
