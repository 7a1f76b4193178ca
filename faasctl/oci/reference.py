"""Parsing ``[REGISTRY/]REPOSITORY[:TAG][@sha256:HEX]`` the way docker does."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from faasctl.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port] as written (docker.io for the default)
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def hostname(self) -> str:
        host = self.registry
        if host.startswith("["):
            return host[1:host.index("]")]
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    @property
    def is_loopback(self) -> bool:
        host = self.hostname
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def reference(self) -> str:
        """What goes in ``/v2/<name>/manifests/<reference>``: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Parse a reference; raises ``UsageError`` naming what is wrong."""
    raw = text.strip()
    if raw.startswith("oci://"):
        raw = raw[len("oci://"):]
    if not raw:
        raise UsageError("empty OCI reference", hint="for example oci://127.0.0.1:5000/hello:v1")
    digest = None
    if "@" in raw:
        raw, digest = raw.split("@", 1)
        if not _DIGEST.match(digest):
            raise UsageError(f"bad digest in OCI reference {text!r}: expected sha256: and 64 hex digits")
    first, _, rest = raw.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, rest
        _check_port(registry, text)
    else:
        registry, path = DOCKER_HUB, raw
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise UsageError(f"bad tag {tag!r} in OCI reference {text!r}")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _REPO.match(path):
        raise UsageError(f"bad repository name {path!r} in OCI reference {text!r}",
                         hint="lower-case letters, digits and . _ - separated by /")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest)


def _check_port(registry: str, text: str) -> None:
    """A registry's port, when it names one, is 1..65535: ``host:99999`` or ``host:abc`` is a typo
    (exit 2), not a registry that cannot be reached (exit 7)."""
    tail = registry[registry.find("]") + 1:] if registry.startswith("[") else registry
    if ":" not in tail:
        return
    port = tail.rsplit(":", 1)[1]
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise UsageError(f"bad port {port!r} in OCI reference {text!r}", hint="a number from 1 to 65535")
