"""A tiny fake Hugging Face Hub for tests (stdlib only), checked against huggingface_hub 2.4.0.

Repos are folders ``root/<owner>/<name>/``. Each repo has exactly one commit, whose sha is derived
from the repo's files (it changes whenever a file changes). No Xet header is ever sent, and the
preupload endpoint answers "regular" for every file, so the client never takes an Xet (or LFS) path.

Endpoints (model repos only; a revision must be "main" or the current sha):
  GET       /api/models/{repo}[/revision/{rev}]      model_info / repo_info (sizes + lfs if ?blobs=true)
  GET       /api/models/{repo}/tree/{rev}[/{path}]   list_repo_tree / list_repo_files / snapshot_download
  HEAD|GET  /{repo}/resolve/{rev}/{path}             hf_hub_download (served directly; Range -> 206)
  POST      /api/repos/create                        create_repo (409 + "url" if it exists)
  POST      /api/models/{repo}/preupload/{rev}       upload modes (always "regular")
  POST      /api/models/{repo}/commit/{rev}          NDJSON: header, file (base64), deletedFile, deletedFolder
  POST      /api/validate-yaml                       a README's metadata (always valid here)
Errors carry X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound like the real Hub.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_THRESHOLD = 1024  # files above this size (or with a weights suffix) are reported as LFS files
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".onnx", ".h5", ".msgpack")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FileInfo:
    path: str  # posix path inside the repo
    size: int
    sha256: str
    blob_id: str  # git oid of what git stores: the LFS pointer for LFS files
    content_sha1: str  # git oid of the raw content (what the client compares after preupload)
    lfs: bool
    pointer_size: int

    @classmethod
    def read(cls, repo_dir: Path, f: Path) -> FileInfo:
        data, rel = f.read_bytes(), f.relative_to(repo_dir).as_posix()
        sha256 = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n".encode()
        lfs = len(data) > LFS_THRESHOLD or rel.endswith(LFS_SUFFIXES)
        sha1 = git_sha1(data)
        return cls(rel, len(data), sha256, git_sha1(pointer) if lfs else sha1, sha1, lfs, len(pointer))


class FakeHub:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path?query, lower-cased headers)
        self.private: set[str] = set()  # repo ids created with private=True
        self.url = ""
        self._cuts: list[list] = []  # [path_suffix, nbytes, remaining]
        self._rate: float | None = None
        self.fake_sha: str | None = None  # a commit id answered instead of the real one (a hostile hub)
        self.corrupt: set[str] = set()  # files (path suffixes) served with one byte changed, listed with the true hash
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"hub": self}))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def cut_after(self, path_suffix: str, nbytes: int, times: int = 1) -> None:
        """The next `times` GETs of a file whose path ends with `path_suffix` announce the full
        Content-Length, send `nbytes` bytes of body, then close the connection. Rules queue up."""
        with self._lock:
            self._cuts.append([path_suffix, nbytes, times])

    def slow(self, bytes_per_s: float | None) -> None:
        """Throttle file bodies to about `bytes_per_s` (None: full speed)."""
        self._rate = bytes_per_s

    def take_cut(self, path: str) -> int | None:
        with self._lock:
            for cut in self._cuts:
                if path.endswith(cut[0]) and cut[2] > 0:
                    cut[2] -= 1
                    return cut[1]
        return None

    def files(self, repo_id: str) -> list[FileInfo]:
        d = self.root / repo_id
        return [FileInfo.read(d, f) for f in sorted(d.rglob("*")) if f.is_file() and ".git" not in f.relative_to(d).parts]

    def commit_sha(self, repo_id: str, files: list[FileInfo] | None = None) -> str:
        if self.fake_sha is not None:
            return self.fake_sha
        h = hashlib.sha1(repo_id.encode())
        for f in self.files(repo_id) if files is None else files:
            h.update(f"{f.path}\0{f.sha256}\n".encode())
        return h.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub; every response has a Content-Length
    body: bytes = b""
    query: dict[str, str] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: object) -> None:
        self._send(200, json.dumps(obj).encode())

    def _error(self, status: int, code: str | None, msg: str, headers: dict[str, str] | None = None) -> None:
        h = {"X-Error-Message": msg, **({"X-Error-Code": code} if code else {}), **(headers or {})}
        self._send(status, json.dumps({"error": msg}).encode(), h)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_GET

    def _dispatch(self) -> None:
        self.hub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # always drain (keep-alive)
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts, cmd = [unquote(p) for p in url.path.split("/")[1:]], self.command
        if cmd == "POST" and parts == ["api", "repos", "create"]:
            return self._create_repo()
        if cmd == "POST" and parts == ["api", "validate-yaml"]:  # a README's metadata, checked before a commit
            return self._json({"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            route = {("GET", ""): self._model_info, ("GET", "revision"): self._model_info, ("GET", "tree"): self._tree,
                     ("POST", "preupload"): self._preupload, ("POST", "commit"): self._commit}.get((cmd, rest[0] if rest else ""))
            if route is not None and (len(rest) >= 2 or route == self._tree or not rest):
                sha = self._check(repo_id, rest[1] if len(rest) > 1 else "main")
                return route(repo_id, sha, "/".join(rest[2:])) if sha else None
        if cmd in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
            repo_id = "/".join(parts[:2])
            sha = self._check(repo_id, parts[3])
            return self._resolve(repo_id, sha, "/".join(parts[4:])) if sha else None
        self._error(404, None, f"fakehub: no route for {cmd} {url.path}")

    def _check(self, repo_id: str, rev: str) -> str | None:
        """Return the repo's commit sha, or send RepoNotFound / RevisionNotFound and return None."""
        if not (self.hub.root / repo_id).is_dir():
            return self._error(404, "RepoNotFound", "Repository not found")
        sha = self.hub.commit_sha(repo_id)
        return sha if rev in ("main", sha) else self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")

    # ---- download side -------------------------------------------------------------------------
    def _model_info(self, repo_id: str, sha: str, _: str) -> None:
        blobs = self.query.get("blobs", "").lower() == "true"  # HfApi.model_info(files_metadata=True)
        siblings = []
        for f in self.hub.files(repo_id):
            s: dict = {"rfilename": f.path}
            if blobs:
                s.update(size=f.size, blobId=f.blob_id)
                if f.lfs:
                    s["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            siblings.append(s)
        self._json({"_id": sha[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": sha,
                    "private": repo_id in self.hub.private, "gated": False, "disabled": False, "downloads": 0,
                    "likes": 0, "tags": [], "siblings": siblings})

    def _tree(self, repo_id: str, sha: str, prefix: str) -> None:
        recursive = self.query.get("recursive", "").lower() == "true"
        base, entries = (f"{prefix}/" if prefix else ""), {}
        for f in self.hub.files(repo_id):
            if not f.path.startswith(base):
                continue
            rel = f.path[len(base):].split("/")
            for i in range(1, len(rel) if recursive else min(len(rel), 2)):  # folders on the way down
                p = base + "/".join(rel[:i])
                entries.setdefault(p, {"type": "directory", "path": p, "oid": git_sha1(p.encode()), "size": 0})
            if recursive or len(rel) == 1:
                e: dict = {"type": "file", "path": f.path, "size": f.size, "oid": f.blob_id}
                if f.lfs:
                    e["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
                entries[f.path] = e
        if prefix and not entries:
            return self._error(404, "EntryNotFound", f"{prefix} does not exist")
        self._json(list(entries.values()))

    def _resolve(self, repo_id: str, sha: str, path: str) -> None:
        f = next((f for f in self.hub.files(repo_id) if f.path == path), None)
        if f is None:  # X-Repo-Commit lets the client cache the miss in .no_exist/
            return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": sha})
        data = (self.hub.root / repo_id / path).read_bytes()
        if any(path.endswith(suffix) for suffix in self.hub.corrupt):
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start, end, status = 0, len(data) - 1, 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, _, b = rng[6:].split(",")[0].partition("-")
            start, end = (int(a), min(int(b or end), end)) if a else (max(0, len(data) - int(b)), end)
            if start > end:
                return self._error(416, None, "Range Not Satisfiable", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(end - start + 1),
                   "Accept-Ranges": "bytes", "ETag": f'"{f.sha256 if f.lfs else f.blob_id}"', "X-Repo-Commit": sha,
                   "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}";'}
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "GET":
            body, cut = data[start:end + 1], self.hub.take_cut(path)
            if cut is not None:
                body, self.close_connection = body[:cut], True
            self._write(body)

    def _write(self, body: bytes) -> None:
        rate = self.hub._rate
        step = max(1, int(rate / 20)) if rate else max(1, len(body))
        try:
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                if rate:
                    self.wfile.flush()
                    time.sleep(step / rate)
        except (BrokenPipeError, ConnectionResetError):  # client went away (e.g. aborted download)
            self.close_connection = True

    # ---- upload side ---------------------------------------------------------------------------
    def _create_repo(self) -> None:
        payload = json.loads(self.body or b"{}")
        if payload.get("type") not in (None, "model"):
            return self._error(400, None, "fakehub only supports model repos")
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        out = {"url": f"{self.hub.url}/{repo_id}", "name": repo_id}
        if (self.hub.root / repo_id).exists():  # with exist_ok=True the client still reads "url" from this body
            return self._send(409, json.dumps({"error": "You already created this model repo", **out}).encode())
        (self.hub.root / repo_id).mkdir(parents=True)
        if payload.get("visibility") == "private" or payload.get("private"):
            self.hub.private.add(repo_id)
        self._json(out)

    def _preupload(self, repo_id: str, sha: str, _: str) -> None:
        # "regular" for every size: with hf_xet installed, "lfs" would send the client to the Xet protocol.
        remote = {f.path: f.content_sha1 for f in self.hub.files(repo_id)}  # equal oid => client skips the file
        self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                               "oid": remote.get(f["path"])} for f in json.loads(self.body)["files"]]})

    def _commit(self, repo_id: str, sha: str, _: str) -> None:
        root = (self.hub.root / repo_id).resolve()
        ops = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        for op in ops[1:]:
            path = (root / op["value"].get("path", "")).resolve()
            if op["key"] not in ("file", "deletedFile", "deletedFolder") or not path.is_relative_to(root):
                return self._error(400, None, f"fakehub: unsupported commit operation {op}"[:300])
        for op in ops[1:]:
            path = root / op["value"]["path"]
            if op["key"] == "file":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(op["value"]["content"]))
            elif op["key"] == "deletedFile":
                path.unlink(missing_ok=True)
            else:
                shutil.rmtree(path, ignore_errors=True)
        sha = self.hub.commit_sha(repo_id)
        self._json({"success": True, "commitOid": sha, "commitUrl": f"{self.hub.url}/{repo_id}/commit/{sha}",
                    "hookOutput": "", "pullRequestUrl": None})
