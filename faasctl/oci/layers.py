"""Which layer of a manifest holds the module, and how to get one ``.wasm`` out of an image layer.

Accepted: the CNCF wasm artifact layer types (one layer), and ``FROM scratch`` images whose single
docker or OCI tar(+gzip) layer holds exactly one ``.wasm`` file. Tar entries are only ever read into
the content-addressed store under the digest of their bytes, never written to a path named by the
archive; an archive naming ``..`` or an absolute path is rejected as hostile all the same.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from faasctl.errors import ArtifactError

WASM_LAYER_TYPES = frozenset({
    "application/wasm",
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.module.wasm.content.layer.v1+wasm",  # wasm-to-oci, the WasmEdge/crun convention
})
TAR_LAYER_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar": "none",
}
WASM_MAGIC = b"\0asm"


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str
    annotations: dict[str, str]

    @property
    def is_tar(self) -> bool:
        return self.media_type in TAR_LAYER_TYPES


def choose_layer(manifest: dict[str, Any], where: str) -> Layer:
    """The one layer that holds the module; ``ArtifactError`` says why when there is none."""
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ArtifactError(f"{where} has no layers")
    parsed = [_layer(item, where) for item in layers]
    wasm = [layer for layer in parsed if layer.media_type in WASM_LAYER_TYPES]
    if len(wasm) == 1:
        return wasm[0]
    if len(wasm) > 1:
        raise ArtifactError(f"{where} has {len(wasm)} WebAssembly layers; faasctl runs single-module artifacts")
    tars = [layer for layer in parsed if layer.is_tar]
    if len(tars) == 1 and len(parsed) == 1:
        return tars[0]
    if tars:
        raise ArtifactError(f"{where} is an image with {len(parsed)} layers; only FROM scratch images with one "
                            "layer holding one .wasm file are supported")
    kinds = ", ".join(sorted({layer.media_type for layer in parsed}))
    raise ArtifactError(f"{where} has no WebAssembly layer (layer types: {kinds}; expected application/wasm, "
                        "application/vnd.wasm.content.layer.v1+wasm or a single tar+gzip image layer)")


def _layer(item: Any, where: str) -> Layer:
    if not isinstance(item, dict) or not isinstance(item.get("digest"), str) or not isinstance(item.get("size"), int):
        raise ArtifactError(f"{where} has a malformed layer descriptor")
    annotations = item.get("annotations") or {}
    return Layer(item["digest"], item["size"], str(item.get("mediaType", "")),
                 {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {})


def check_module(data_head: bytes, where: str) -> None:
    if not data_head.startswith(WASM_MAGIC):
        raise ArtifactError(f"{where} is not a WebAssembly module (it does not start with \\0asm)")


def open_tar(path: Path, media_type: str, max_size: int) -> BinaryIO:
    """The layer's uncompressed tar stream, capped at ``max_size`` bytes (a gzip bomb stops there)."""
    raw = path.open("rb")
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if TAR_LAYER_TYPES[media_type] == "gzip" else raw  # type: ignore[assignment]
    return _Capped(stream, max_size, raw)  # type: ignore[return-value]


class _Capped:
    def __init__(self, inner: Any, cap: int, raw: Any) -> None:
        self.inner, self.cap, self.raw, self.seen = inner, cap, raw, 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n if n >= 0 else self.cap + 1 - self.seen)
        self.seen += len(data)
        if self.seen > self.cap:
            raise ArtifactError(f"the image layer unpacks to more than the size cap of {self.cap} bytes")
        return data

    def close(self) -> None:
        self.inner.close()
        self.raw.close()


def extract_wasm(path: Path, media_type: str, max_size: int, where: str) -> tuple[str, bytes]:
    """The name and bytes of the one ``.wasm`` file in a tar layer, after checking every entry."""
    found: list[tuple[str, bytes]] = []
    stream = open_tar(path, media_type, max_size)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                _check_name(member.name, where)
                if member.issym() or member.islnk():
                    _check_name(member.linkname, where, link=True)
                if not member.isfile() or not member.name.lower().endswith(".wasm"):
                    continue
                if PurePosixPath(member.name).name.startswith(".wh."):
                    continue  # an overlay whiteout, not a file
                handle = archive.extractfile(member)
                data = handle.read() if handle else b""
                found.append((member.name, data))
                if len(found) > 1:
                    break
    except (tarfile.TarError, EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
        raise ArtifactError(f"{where} is not a readable tar archive: {exc}") from None
    finally:
        stream.close()
    if not found:
        raise ArtifactError(f"{where} holds no .wasm file")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise ArtifactError(f"{where} holds more than one .wasm file ({names}); expected exactly one")
    name, data = found[0]
    check_module(data[:4], f"{name} in {where}")
    return PurePosixPath(name).name, data


def _check_name(name: str, where: str, *, link: bool = False) -> None:
    what = "a link to" if link else "an entry named"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArtifactError(f"{where} has {what} an absolute path ({name!r}); refusing the layer")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise ArtifactError(f"{where} has {what} a path outside the layer ({name!r}); refusing the layer")
