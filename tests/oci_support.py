"""Test support for the OCI suite: real ``docker-registry`` processes on 127.0.0.1, a small fault-injecting
proxy in front of one (bearer-token auth, tampered manifests, cut-off downloads), and raw upload helpers
for crafting the hostile images that ``faasctl push`` would never produce."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REGISTRY = shutil.which("docker-registry") or shutil.which("registry")
USER, PASSWORD = "ada", "s3cret-pass"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path
    process: subprocess.Popen | None = None
    auth: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    # raw API helpers ---------------------------------------------------------------------------------

    def _request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(url if url.startswith("http") else self.url + url, data=data, method=method,
                                     headers=headers or {})
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        return urllib.request.urlopen(req, timeout=10)

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._request("POST", f"/v2/{repo}/blobs/uploads/", b"") as resp:
            location = resp.headers["Location"]
        sep = "&" if "?" in location else "?"
        with self._request("PUT", f"{location}{sep}digest={digest}", data,
                           {"Content-Type": "application/octet-stream"}):
            pass
        return digest

    def push_manifest(self, repo: str, tag: str, doc: dict | bytes, media_type: str = OCI_MANIFEST) -> str:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        with self._request("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": media_type}):
            pass
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def push_image(self, repo: str, tag: str, layers: list[tuple[str, bytes]], *,
                   config_type: str = "application/vnd.oci.image.config.v1+json",
                   manifest_type: str = OCI_MANIFEST, config: bytes = b"{}") -> str:
        """An image with the given (media type, bytes) layers; returns the manifest digest."""
        config_digest = self.push_blob(repo, config)
        descriptors = [{"mediaType": kind, "digest": self.push_blob(repo, data), "size": len(data)}
                       for kind, data in layers]
        doc = {"schemaVersion": 2, "mediaType": manifest_type,
               "config": {"mediaType": config_type, "digest": config_digest, "size": len(config)},
               "layers": descriptors}
        return self.push_manifest(repo, tag, doc, manifest_type)

    def blob_data_path(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return self.root / "storage" / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"


def start_registry(root: Path, *, htpasswd: str | None = None) -> Registry:
    if not REGISTRY:
        pytest.fail("docker-registry is not installed (apt-get install docker-registry; .ci/run does it)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd:
        (root / "htpasswd").write_text(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: faasctl-test\n    path: {root / 'htpasswd'}\n"
    (root / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([REGISTRY, "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    registry = Registry(f"127.0.0.1:{port}", root, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited: {(root / 'registry.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return registry
        except OSError:
            time.sleep(0.05)
    registry.stop()
    pytest.fail("docker-registry did not start within 15s")


def bcrypt_htpasswd(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


# -- the fault-injecting proxy ---------------------------------------------------------------------------

@dataclass
class ProxyState:
    upstream: str
    mode: str = "pass"  # pass | bearer | tamper-manifest | truncate-blob
    token: str = "tok-0123456789"
    token_requests: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ProxyState

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self, method: str) -> None:
        state = self.state
        state.requests.append(f"{method} {self.path}")
        host = f"127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/token"):
            from urllib.parse import parse_qs, urlsplit

            state.token_requests.append({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})
            self._send(200, json.dumps({"token": state.token}).encode(), {"Content-Type": "application/json"})
            return
        if state.mode == "bearer" and self.headers.get("Authorization") != f"Bearer {state.token}":
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                       {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="faasctl-test"',
                        "Content-Type": "application/json"})
            return
        conn = http.client.HTTPConnection(state.upstream, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept",)}
        conn.request(method, self.path, headers=headers)
        upstream = conn.getresponse()
        body = upstream.read()
        out = {k: v for k, v in upstream.getheaders()
               if k.lower() in ("content-type", "docker-content-digest", "www-authenticate")}
        if state.mode == "tamper-manifest" and "/manifests/" in self.path and upstream.status == 200:
            body = body.replace(b"application/wasm", b"application/wasm ", 1) + b" "
        if state.mode == "truncate-blob" and "/blobs/" in self.path and upstream.status == 200 and method == "GET":
            self.send_response(200)
            for key, value in out.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(upstream.status, body, out)
        conn.close()


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.state = ProxyState(upstream)
        handler = type("Handler", (_ProxyHandler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- building layers -------------------------------------------------------------------------------------

def tar_gz(entries: list[tuple[str, bytes]], *, symlinks: list[tuple[str, str]] = ()) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in symlinks:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return gzip.compress(raw.getvalue())


def http_error_code(exc: urllib.error.HTTPError) -> int:
    return exc.code


# -- fixtures (imported by the test modules) --------------------------------------------------------------

@pytest.fixture(scope="session", name="registry")
def registry_fixture(tmp_path_factory: pytest.TempPathFactory):
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session", name="auth_registry")
def auth_registry_fixture(tmp_path_factory: pytest.TempPathFactory):
    reg = start_registry(tmp_path_factory.mktemp("registry-auth"), htpasswd=bcrypt_htpasswd(USER, PASSWORD))
    reg.auth = (USER, PASSWORD)
    yield reg
    reg.stop()


@pytest.fixture(name="proxy")
def proxy_fixture(registry: Registry):
    px = Proxy(registry.host)
    yield px
    px.close()
