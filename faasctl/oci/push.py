"""Push one module as a CNCF wasm OCI artifact, or as a ``FROM scratch``-style docker image.

``oci`` (the default; the CNCF TAG Runtime "wasm OCI artifact" layout): an OCI image manifest whose config
is ``application/vnd.wasm.config.v0+json`` and whose one layer is ``application/wasm``. The manifest's
annotations record what faasctl needs to run it without guessing: ``dev.faasctl.runtime`` and
``dev.faasctl.abi``, plus the standard ``org.opencontainers.image.created``/``title``.

``docker``: what ``docker build`` makes of ``FROM scratch`` + ``ADD NAME.wasm /``: a docker v2 schema 2
manifest, a docker image config, and one ``tar.gzip`` layer holding ``/NAME.wasm``. The openEuler
WasmEngine's puller accepts only that layer type, so functions pushed this way deploy there too. The
runtime and ABI go into the config's labels (docker manifests have no annotations). The layer is built
reproducibly (fixed times and owners), so pushing the same module twice gives the same digests.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from faasctl.errors import ArtifactError, UsageError
from faasctl.oci.client import RegistryClient
from faasctl.oci.credentials import Credentials
from faasctl.oci.layers import WASM_MAGIC
from faasctl.oci.pull import DOCKER_MANIFEST, OCI_MANIFEST
from faasctl.oci.reference import Reference

WASM_CONFIG = "application/vnd.wasm.config.v0+json"
WASM_LAYER = "application/wasm"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
COMPONENT_VERSION = b"\x0d\x00\x01\x00"
FORMATS = ("oci", "docker")


@dataclass(frozen=True)
class Pushed:
    reference: str
    digest: str
    module_digest: str
    size: int


def load_module(path: Path) -> bytes:
    """A ``.wasm`` file's bytes, or a ``.wat`` file compiled to them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".wat":
        import wasmtime

        try:
            data = wasmtime.wat2wasm(data.decode("utf-8"))
        except (wasmtime.WasmtimeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path} is not valid WebAssembly text: {str(exc).splitlines()[0]}") from None
    if not data.startswith(WASM_MAGIC):
        raise UsageError(f"{path} is not a WebAssembly module", hint="push takes a .wasm or .wat file")
    return data


def detect_abi(data: bytes) -> str:
    """``wasi`` (exports _start), ``string`` (memory + __heap_base + an (i32,i32)->(i32,i32) export) or ``core``."""
    import wasmtime

    try:
        module = wasmtime.Module(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError as exc:
        raise ArtifactError(f"invalid WebAssembly module: {str(exc).splitlines()[0]}") from None
    exports = {e.name: e.type for e in module.exports}
    if isinstance(exports.get("_start"), wasmtime.FuncType):
        return "wasi"
    if "memory" in exports and "__heap_base" in exports:
        for kind in exports.values():
            if isinstance(kind, wasmtime.FuncType) and [str(p) for p in kind.params] == ["i32", "i32"] \
                    and [str(r) for r in kind.results] == ["i32", "i32"]:
                return "string"
    return "core"


def build_artifact(data: bytes, title: str, *, abi: str, runtime: str,
                   annotations: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """The config blob and manifest bytes for one module."""
    created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    module_digest = "sha256:" + hashlib.sha256(data).hexdigest()
    config = json.dumps({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2" if data[4:8] == COMPONENT_VERSION else "wasip1",
        "layerDigests": [module_digest],
    }, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": WASM_CONFIG, "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                   "size": len(config)},
        "layers": [{"mediaType": WASM_LAYER, "digest": module_digest, "size": len(data),
                    "annotations": {"org.opencontainers.image.title": title}}],
        "annotations": {"org.opencontainers.image.created": created, "dev.faasctl.runtime": runtime,
                        "dev.faasctl.abi": abi, **(annotations or {})},
    }
    return config, json.dumps(manifest, separators=(",", ":")).encode()


def scratch_layer(data: bytes, filename: str) -> tuple[bytes, str]:
    """The gzipped tar of ``/FILENAME`` and the digest of the uncompressed tar (the image's diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(filename)
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o644, 0, 0, 0
        archive.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), "sha256:" + hashlib.sha256(tar).hexdigest()


def build_docker_image(data: bytes, title: str, *, abi: str, runtime: str,
                       annotations: dict[str, str] | None = None) -> tuple[bytes, bytes, bytes]:
    """The config blob, layer blob and manifest bytes of a ``FROM scratch`` + ``ADD TITLE /`` image."""
    layer, diff_id = scratch_layer(data, title)
    labels = {"dev.faasctl.runtime": runtime, "dev.faasctl.abi": abi, "org.opencontainers.image.title": title,
              **(annotations or {})}
    config = json.dumps({
        "architecture": "wasm",
        "os": "wasip2" if data[4:8] == COMPONENT_VERSION else "wasip1",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"ADD {title} / # faasctl push --format docker"}],
    }, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(config),
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
        "layers": [{"mediaType": DOCKER_LAYER, "size": len(layer),
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest()}],
    }
    return config, layer, json.dumps(manifest, separators=(",", ":")).encode()


def push(path: Path, ref: Reference, *, credentials: Credentials | None = None, insecure: bool = False,
         abi: str | None = None, runtime: str = "wasm", annotations: dict[str, str] | None = None,
         timeout: float = 30.0, image_format: str = "oci") -> Pushed:
    """Upload the module at ``path`` to ``ref`` (a tag) as an ``oci`` wasm artifact or a ``docker`` image;
    blobs the registry has are not sent again."""
    if ref.digest:
        raise UsageError("push needs a tag, not a digest", hint="for example oci://127.0.0.1:5000/hello:v1")
    if image_format not in FORMATS:
        raise UsageError(f"unknown image format {image_format!r}", hint="use oci or docker")
    data = load_module(path)
    abi = abi or detect_abi(data)
    title = path.with_suffix(".wasm").name
    if image_format == "docker":
        config, layer, manifest = build_docker_image(data, title, abi=abi, runtime=runtime, annotations=annotations)
        blobs, media_type = (config, layer), DOCKER_MANIFEST
    else:
        config, manifest = build_artifact(data, title, abi=abi, runtime=runtime, annotations=annotations)
        blobs, media_type = (config, data), OCI_MANIFEST
    client = RegistryClient(ref, credentials, insecure, timeout)
    for blob in blobs:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        if not client.blob_exists(digest):
            client.upload_blob(blob, digest)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    claimed = client.put_manifest(ref.tag or "latest", manifest, media_type)
    if claimed and claimed != digest:
        raise ArtifactError(f"registry {ref.registry} stored the manifest as {claimed}, expected {digest}")
    return Pushed(str(ref), digest, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
