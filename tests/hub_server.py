"""A small Hugging Face Hub on 127.0.0.1 for tests: the URL layout and answers huggingface_hub's
real client needs for create_repo, upload_folder (preupload + commit, regular uploads),
repo_info, list_repo_tree and file downloads (HEAD/GET of /ORG/NAME/resolve/REV/PATH), with the
error codes the Hub sends for gated and missing repositories. The real Hub is out of reach here;
the client code path is used unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

SHA = "a" * 40


@dataclass
class Hub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    url: str = ""

    def start(self) -> "Hub":
        hub = self

        class Handler(_Handler):
            state = hub

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


class _Handler(http.server.BaseHTTPRequestHandler):
    state: Hub

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None,
              with_body: bool = True) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _json(self, obj: object, code: int = 200) -> None:
        self._send(code, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _error(self, code: int, kind: str, with_body: bool = True) -> None:
        self._send(code, json.dumps({"error": kind}).encode(), {"X-Error-Code": kind},
                   with_body=with_body)

    def _note(self) -> None:
        self.state.requests.append(f"{self.command} {urlparse(self.path).path}")
        self.state.tokens.append(self.headers.get("Authorization"))

    def _repo(self, repo: str, with_body: bool = True) -> dict[str, bytes] | None:
        if repo in self.state.gated:
            self._error(401, "GatedRepo", with_body)
            return None
        files = self.state.repos.get(repo)
        if files is None:
            self._error(404, "RepoNotFound", with_body)
        return files

    def do_POST(self) -> None:  # noqa: N802 - http.server's names
        self._note()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlparse(self.path).path
        host = f"http://{self.headers['Host']}"
        if path == "/api/repos/create":
            d = json.loads(body)
            repo = f"{d.get('organization')}/{d['name']}"
            self.state.repos.setdefault(repo, {})
            return self._json({"url": f"{host}/{repo}", "name": repo})
        if path == "/api/validate-yaml":
            return self._json({"errors": [], "warnings": []})
        if path.startswith("/api/models/") and "/preupload/" in path:
            files = json.loads(body)["files"]
            return self._json({"files": [{"path": f["path"], "uploadMode": "regular",
                                          "shouldIgnore": False} for f in files]})
        if path.startswith("/api/models/") and "/commit/" in path:
            repo = path[len("/api/models/"):].split("/commit/")[0]
            files = self.state.repos.setdefault(repo, {})
            for line in body.splitlines():
                op = json.loads(line)
                if op["key"] == "file":
                    files[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
            return self._json({"commitUrl": f"{host}/{repo}/commit/{SHA}", "commitOid": SHA,
                               "success": True})
        self._error(404, "EntryNotFound")

    def do_GET(self, with_body: bool = True) -> None:  # noqa: N802
        self._note()
        path = unquote(urlparse(self.path).path)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/"):]
            repo = "/".join(rest.split("/")[:2])
            files = self._repo(repo, with_body)
            if files is None:
                return
            if "/tree/" in rest:
                return self._json([{"type": "file", "path": p, "size": len(b),
                                    "oid": hashlib.sha1(b).hexdigest()} for p, b in files.items()])
            return self._json({"id": repo, "modelId": repo, "sha": SHA, "private": False,
                               "siblings": [{"rfilename": p} for p in files]})
        if "/resolve/" in path:
            repo, rest = path.lstrip("/").split("/resolve/", 1)
            files = self._repo(repo, with_body)
            if files is None:
                return
            name = rest.split("/", 1)[1]
            if name not in files:
                return self._error(404, "EntryNotFound", with_body)
            data = files[name]
            return self._send(200, data, {"X-Repo-Commit": SHA,
                                          "ETag": f'"{hashlib.sha1(data).hexdigest()}"'},
                              with_body=with_body)
        self._error(404, "EntryNotFound", with_body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET(with_body=False)
