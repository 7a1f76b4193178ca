"""A small registry API v2 client on ``urllib`` (stdlib): manifests, blobs, uploads, auth.

Why not oras-py: its ``get_manifest`` returns parsed JSON (the raw bytes a digest check needs are
gone), its downloads never verify digests, every request is wrapped in a retry decorator that sleeps
for minutes on a refused connection, and it brings ``requests`` and ``jsonschema`` onto the run path.
The protocol subset faasctl needs is small: GET/HEAD manifests and blobs, monolithic blob upload,
PUT manifest, and the two auth challenges (Bearer token and Basic).

Every failure is an ``ArtifactError`` with one line naming the registry and what went wrong.
Nothing the registry says is trusted: callers hash every byte themselves.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from faasctl.errors import ArtifactError
from faasctl.oci.credentials import Credentials
from faasctl.oci.reference import Reference

MAX_MANIFEST = 4 * 1024 * 1024
USER_AGENT = "faasctl-oci/1"


@dataclass
class Response:
    status: int
    headers: Any
    stream: Any  # a file-like body; call close()

    def read_capped(self, cap: int, what: str) -> bytes:
        data = self.stream.read(cap + 1)
        self.stream.close()
        if len(data) > cap:
            raise ArtifactError(f"{what} is larger than {cap} bytes; refusing it")
        return data


class _SameHostAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects (blob storage often redirects) but never send our credentials to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            return None  # urllib would also follow ftp:; a registry has no business there
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            for key in [k for k in new.headers if k.lower() == "authorization"]:
                del new.headers[key]
            new.unredirected_hdrs.pop("Authorization", None)
        return new


@dataclass
class RegistryClient:
    """One registry and repository. ``insecure`` allows plain HTTP to a non-loopback host."""

    ref: Reference
    credentials: Credentials | None = None
    insecure: bool = False
    timeout: float = 30.0
    _auth: dict[str, str] = field(default_factory=dict)  # scope -> Authorization header value

    def __post_init__(self) -> None:
        plain = self.ref.is_loopback or self.insecure
        self.base = f"{'http' if plain else 'https'}://{self.ref.api_host}"
        handlers: list[Any] = [_SameHostAuthRedirect()]
        if self.ref.is_loopback:
            handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic to a proxy
        self._opener = urllib.request.build_opener(*handlers)

    # -- the API ------------------------------------------------------------------------------------------

    def get_manifest(self, reference: str, accept: list[str]) -> tuple[bytes, str, str | None]:
        """The manifest's raw bytes, its content type and the digest the registry claims for it."""
        response = self.request("GET", f"/v2/{self.ref.repository}/manifests/{reference}",
                                headers={"Accept": ", ".join(accept)}, what=f"manifest {reference}")
        body = response.read_capped(MAX_MANIFEST, f"the manifest of {self.ref}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return body, content_type, response.headers.get("Docker-Content-Digest")

    def open_blob(self, digest: str) -> Response:
        return self.request("GET", f"/v2/{self.ref.repository}/blobs/{digest}", what=f"blob {digest}")

    def blob_exists(self, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{self.ref.repository}/blobs/{digest}", what=f"blob {digest}",
                         scope="push").stream.close()
        except _NotFound:
            return False
        return True

    def upload_blob(self, data: bytes, digest: str) -> None:
        """Monolithic upload: POST opens a session, PUT ?digest= completes it in one request."""
        start = self.request("POST", f"/v2/{self.ref.repository}/blobs/uploads/", data=b"",
                             what="blob upload", scope="push")
        start.stream.close()
        location = start.headers.get("Location")
        if not location:
            raise ArtifactError(f"registry {self.ref.registry} started an upload without a Location")
        url = urllib.parse.urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        self.request("PUT", url, data=data, what=f"blob {digest}", scope="push",
                     headers={"Content-Type": "application/octet-stream"}).stream.close()

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str | None:
        response = self.request("PUT", f"/v2/{self.ref.repository}/manifests/{reference}", data=body,
                                headers={"Content-Type": media_type}, what=f"manifest {reference}", scope="push")
        response.stream.close()
        return response.headers.get("Docker-Content-Digest")

    # -- requests and auth --------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, data: bytes | None = None,
                what: str, scope: str = "pull") -> Response:
        """One request, answering one auth challenge. Raises ``ArtifactError`` (``_NotFound`` on 404)."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        wanted = f"repository:{self.ref.repository}:{'pull,push' if scope == 'push' else 'pull'}"
        status, resp_headers, stream, err = self._send(method, url, headers, data, self._auth.get(wanted))
        if status == 401:
            challenge = resp_headers.get("WWW-Authenticate", "")
            if stream is not None:
                stream.close()
            self._auth[wanted] = self._authorize(challenge, wanted)
            status, resp_headers, stream, err = self._send(method, url, headers, data, self._auth[wanted])
        if 200 <= status < 300:
            return Response(status, resp_headers, stream)
        return self._fail(status, stream, err, what)

    def _send(self, method: str, url: str, headers: dict[str, str] | None, data: bytes | None,
              auth: str | None) -> tuple[int, Any, Any, str]:
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        if auth:
            req.add_unredirected_header("Authorization", auth)
        try:
            resp = self._opener.open(req, timeout=self.timeout)
            return resp.status, resp.headers, resp, ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc, ""
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ArtifactError(self._network_message(exc)) from None

    def _network_message(self, exc: BaseException) -> str:
        reason: Any = getattr(exc, "reason", exc)
        where = f"registry {self.ref.registry}"
        if isinstance(reason, socket.gaierror):
            return f"cannot reach {where}: unknown host {self.ref.hostname!r}"
        if isinstance(reason, ConnectionRefusedError):
            return f"cannot reach {where}: connection refused"
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"cannot reach {where}: no answer within {self.timeout:g}s"
        if isinstance(reason, ssl.SSLError):
            return (f"TLS error talking to {where}: {getattr(reason, 'reason', None) or reason} "
                    "(plain HTTP needs --insecure)")
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return f"cannot reach {where}: {text}"

    def _authorize(self, challenge: str, scope: str) -> str:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.credentials:
                raise ArtifactError(self._denied("needs a login"))
            return self.credentials.basic()
        if scheme != "bearer" or "realm" not in params:
            raise ArtifactError(f"registry {self.ref.registry} asked for unsupported auth {challenge!r}")
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        realm = self._checked_realm(params["realm"])
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        if self.credentials:
            req.add_unredirected_header("Authorization", self.credentials.basic())
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                answer = json.loads(resp.read(1024 * 1024) or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                who = "the login" if self.credentials else "anonymous access"
                raise ArtifactError(self._denied(f"token service refused {who}")) from None
            raise ArtifactError(f"token service of {self.ref.registry} answered {exc.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ArtifactError(f"cannot get a token for {self.ref.registry}: {getattr(exc, 'reason', exc)}") from None
        except ValueError:
            raise ArtifactError(f"token service of {self.ref.registry} sent invalid JSON") from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ArtifactError(f"token service of {self.ref.registry} sent no token")
        return f"Bearer {token}"

    def _checked_realm(self, realm: str) -> str:
        """The token service URL the registry names: ``https``, or ``http`` where plain HTTP is allowed
        (a loopback realm, or ``--insecure``). Anything else (``file:``, ``ftp:``, not a URL) would have
        urllib read a local file or crash, and its content travel as a token."""
        try:
            parts = urllib.parse.urlsplit(realm)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is not None and host:
            if parts.scheme == "https":
                return realm
            if parts.scheme == "http" and (self.insecure or _is_loopback_host(host)):
                return realm
        shown = realm if len(realm) <= 100 else realm[:97] + "..."
        allowed = "an https URL" + ("" if self.insecure else " (http only for loopback or with --insecure)")
        raise ArtifactError(f"registry {self.ref.registry} named a token service {shown!r}; it must be {allowed}")

    def _denied(self, why: str) -> str:
        how = "wrong credentials" if self.credentials else "no credentials given"
        return (f"registry {self.ref.registry} refused access to {self.ref.repository} (401 unauthorized, {how}; "
                f"{why}): use --username/--password-stdin or a docker config login")

    def _fail(self, status: int, stream: Any, err: str, what: str) -> Any:
        code, message = _error_body(stream)
        if status == 404 or code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"):
            error = _NotFound(f"{what} not found in {self.ref.registry}/{self.ref.repository} "
                              f"({code or status}{': ' + message if message else ''})")
            error.code = code or str(status)
            raise error
        if status == 401:
            raise ArtifactError(self._denied(message or "credentials rejected"))
        if status == 403:
            raise ArtifactError(f"registry {self.ref.registry} denied access to {self.ref.repository} (403 forbidden)")
        detail = f"{code}: {message}" if code else (message or err or "no detail")
        raise ArtifactError(f"registry {self.ref.registry} answered {status} for {what} ({detail})")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NotFound(ArtifactError):
    """A 404: callers turn it into 'unknown tag' or 'blob missing' messages."""

    code = "404"


NotFound = _NotFound


def _error_body(stream: Any) -> tuple[str, str]:
    """The first ``errors[]`` entry of a registry error body, if there is one."""
    if stream is None:
        return "", ""
    try:
        raw = stream.read(64 * 1024)
        stream.close()
        doc = json.loads(raw or b"{}")
        first = doc.get("errors", [{}])[0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except Exception:  # an error page that is not JSON: the status alone says enough
        return "", ""


_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…",scope="…"`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(rest)}
    return scheme.lower(), params
