"""Pull one function: manifest (or index) -> the layer holding the module -> verified blobs in the cache.

Every manifest and blob is hashed here; a digest the registry claims is only compared, never believed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

from faasctl.errors import ArtifactError
from faasctl.oci.cache import CHUNK, DEFAULT_MAX_SIZE, BlobStore
from faasctl.oci.client import NotFound, RegistryClient
from faasctl.oci.credentials import Credentials
from faasctl.oci.layers import Layer, check_module, choose_layer, extract_wasm
from faasctl.oci.reference import Reference

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST]
WASM_PLATFORMS = {("wasi", "wasm"), ("wasip1", "wasm"), ("wasip2", "wasm")}
TITLE = "org.opencontainers.image.title"


class Progress(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], Progress]


@dataclass(frozen=True)
class PullOptions:
    credentials: Credentials | None = None
    insecure: bool = False
    max_size: int = DEFAULT_MAX_SIZE
    timeout: float = 30.0
    progress: ProgressFactory | None = None


@dataclass(frozen=True)
class Pulled:
    reference: str
    digest: str  # the manifest (or index) digest the reference resolved to
    module_digest: str
    name: str
    size: int
    layer_media_type: str
    annotations: dict[str, str] = field(default_factory=dict)
    blobs: tuple[str, ...] = ()  # every cached blob this pull uses (manifests, layer, module): prune keeps them

    def record(self) -> dict[str, Any]:
        return {"reference": self.reference, "module": self.module_digest, "name": self.name, "size": self.size,
                "layer_media_type": self.layer_media_type, "annotations": self.annotations,
                "blobs": sorted(set(self.blobs)), "pulled_at": time.time()}


def pull(ref: Reference, store: BlobStore, options: PullOptions) -> Pulled:
    """Fetch and verify ``ref``; the module ends up in ``store`` and the tag points at its manifest."""
    client = RegistryClient(ref, options.credentials, options.insecure, options.timeout)
    digest, manifest = fetch_manifest(client, store, ref, ref.reference, ref.digest)
    top_digest = digest
    if _media_type(manifest) in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
        entry = pick_platform(manifest, str(ref))
        digest, manifest = fetch_manifest(client, store, ref, entry, entry)
        if "manifests" in manifest:
            raise ArtifactError(f"{ref}: an index inside an index is not supported")
    layer = choose_layer(manifest, str(ref))
    if layer.size > options.max_size:
        raise ArtifactError(f"{ref}: the layer is {layer.size} bytes, past the size cap of {options.max_size} bytes")
    fetch_blob(client, store, layer, options, f"{ref.repository} layer {layer.digest[7:19]}")
    if layer.is_tar:
        inner, data = extract_wasm(store.path(layer.digest), layer.media_type, options.max_size, f"{ref} layer")
        module_digest = store.put_bytes(data, label=f"{inner} from {ref}")
        name, size = inner, len(data)
    else:
        with store.path(layer.digest).open("rb") as handle:
            check_module(handle.read(4), f"the layer of {ref}")
        module_digest, size = layer.digest, layer.size
        name = _title(layer) or _default_name(ref)
    annotations = {str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()}
    annotations.update({"dev.faasctl.manifest-digest": digest, "dev.faasctl.reference": str(ref)})
    blobs = (top_digest, digest, layer.digest, module_digest)
    pulled = Pulled(str(ref), top_digest, module_digest, name, size, layer.media_type, annotations, blobs)
    store.set_resolved(top_digest, pulled.record())
    if ref.tag and not ref.digest:
        store.set_tag(ref, top_digest)
    return pulled


def fetch_manifest(client: RegistryClient, store: BlobStore, ref: Reference, reference: str,
                   expected: str | None) -> tuple[str, dict[str, Any]]:
    """The manifest's verified digest and its parsed document."""
    try:
        body, content_type, claimed = client.get_manifest(reference, ACCEPT)
    except NotFound as exc:
        what = f"digest {reference}" if reference.startswith("sha256:") else f"tag {reference!r}"
        raise ArtifactError(f"unknown {what} for {ref.registry}/{ref.repository} "
                            f"(the registry answered {exc.code})") from None
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if expected and actual != expected:
        raise ArtifactError(f"manifest digest mismatch for {ref}: asked for {expected}, the bytes the registry "
                            f"sent hash to {actual}")
    if claimed and claimed != actual:
        raise ArtifactError(f"manifest digest mismatch for {ref}: the registry says {claimed}, the bytes it sent "
                            f"hash to {actual}")
    try:
        doc = json.loads(body)
    except ValueError:
        raise ArtifactError(f"the manifest of {ref} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise ArtifactError(f"the manifest of {ref} is not an OCI or docker v2 manifest")
    if not doc.get("mediaType") and content_type:
        doc["mediaType"] = content_type
    store.put_bytes(body, label=f"manifest of {ref}")
    return actual, doc


def pick_platform(index: dict[str, Any], where: str) -> str:
    """The digest of the ``wasi/wasm`` entry of a multi-platform index."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ArtifactError(f"{where}: malformed index")
    seen = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        platform = entry.get("platform") or {}
        pair = (str(platform.get("os", "")), str(platform.get("architecture", "")))
        seen.append("/".join(pair))
        if pair in WASM_PLATFORMS and isinstance(entry.get("digest"), str):
            return entry["digest"]
    listed = ", ".join(seen) or "none"
    raise ArtifactError(f"{where} has no wasi/wasm platform entry (platforms: {listed})")


def fetch_blob(client: RegistryClient, store: BlobStore, layer: Layer, options: PullOptions, label: str) -> None:
    """Download ``layer`` into the store unless a verified copy is already there."""
    if store.has(layer.digest):
        try:
            store.read_verified(layer.digest)
            return
        except ArtifactError:
            pass  # corrupt: it was removed, download it again
    try:
        response = client.open_blob(layer.digest)
    except NotFound as exc:
        raise ArtifactError(f"the registry lost a layer: {exc.message}") from None
    bar = options.progress(label, layer.size) if options.progress else None
    try:
        store.write(layer.digest, _chunks(response.stream, label), max_size=options.max_size,
                    expected_size=layer.size, label=f"layer {layer.digest}", progress=bar.update if bar else None)
    finally:
        response.stream.close()
        if bar:
            bar.close()


def _chunks(stream: Any, label: str) -> Iterator[bytes]:
    while True:
        try:
            chunk = stream.read(CHUNK)
        except (http.client.IncompleteRead, OSError, http.client.HTTPException) as exc:
            raise ArtifactError(f"download of {label} was interrupted ({type(exc).__name__}); "
                                "nothing was cached, try again") from None
        if not chunk:
            return
        yield chunk


def _media_type(doc: dict[str, Any]) -> str:
    return str(doc.get("mediaType", ""))


def _title(layer: Layer) -> str | None:
    title = layer.annotations.get(TITLE)
    if not title:
        return None
    base = PurePosixPath(title.replace("\\", "/")).name
    return base if base.endswith(".wasm") else (f"{base}.wasm" if base else None)


def _default_name(ref: Reference) -> str:
    return ref.repository.rsplit("/", 1)[-1] + ".wasm"
