"""Registry credentials from the docker config file (``auths`` entries and credential helpers).

The edge finds the config directory (``DOCKER_CONFIG`` or ``~/.docker``) with ``docker_config_dir``
and hands it to the engine in ``Settings.oci["docker_config"]``; the engine never reads the environment.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from faasctl.files import TooLarge, read_capped
from faasctl.limits import MAX_DOCUMENT
from faasctl.oci.reference import DOCKER_HUB


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def __repr__(self) -> str:  # never print a password in a traceback or a log
        return f"Credentials(username={self.username!r}, password=***)"


HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


def docker_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def _host_of(key: str) -> str:
    """``https://host:5000/v1/`` -> ``host:5000``; keys are written in several forms by docker and podman."""
    text = key.split("://", 1)[-1]
    return text.split("/", 1)[0]


def lookup(config_dir: Path | str | None, registry: str) -> Credentials | None:
    """Credentials for ``registry`` from ``config_dir/config.json``; None when there are none.

    A malformed file or a failing helper means anonymous access, not an error: the registry's own
    401 then tells the user what is missing."""
    if not config_dir:
        return None
    try:
        doc = json.loads(read_capped(Path(config_dir) / "config.json", MAX_DOCUMENT))
    except (OSError, ValueError, TooLarge):
        return None
    if not isinstance(doc, dict):
        return None
    wanted = {registry, *HUB_KEYS} if registry == DOCKER_HUB else {registry}
    helpers = doc.get("credHelpers") or {}
    helper = next((helpers[k] for k in helpers if _host_of(k) in wanted), None) if isinstance(helpers, dict) else None
    if helper is None and isinstance(doc.get("credsStore"), str):
        helper = doc["credsStore"]
    if helper:
        found = _from_helper(str(helper), registry if registry != DOCKER_HUB else HUB_KEYS[0])
        if found:
            return found
    auths = doc.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _host_of(key) in wanted and isinstance(entry, dict):
            found = _from_entry(entry)
            if found:
                return found
    return None


def _from_entry(entry: dict[str, object]) -> Credentials | None:
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return Credentials(user, password) if user else None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def _from_helper(name: str, server: str) -> Credentials | None:
    """``docker-credential-NAME get`` with the server on stdin, as docker runs it."""
    import subprocess

    try:
        proc = subprocess.run([f"docker-credential-{name}", "get"], input=server.encode(), capture_output=True,
                              timeout=15, check=False)
        answer = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if isinstance(answer, dict) and answer.get("Username") and isinstance(answer.get("Secret"), str):
        return Credentials(str(answer["Username"]), answer["Secret"])
    return None
