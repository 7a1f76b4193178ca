"""The runtime registry: ``runtimes/*.yaml`` descriptors, looked up by name, alias, media type or ending.

Parsing YAML costs ~30 ms of imports, more than a whole JS run, so the parsed descriptors are kept as
JSON in the cache, keyed by the YAML bytes; the YAML parser is only imported when they change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from faasctl.errors import ArtifactError, UsageError
from faasctl.files import read_json, write_json_atomic

REQUIRED = ("name", "adapter", "endings")
# RunOptions fields a descriptor may accept, and the command-line spelling used in messages about them.
OPTION_FLAGS = {"invoke": "--invoke", "args": "ARGS/--arg", "abi": "--abi", "wasi_args": "--wasi-args",
                "dirs": "--dir", "env": "--env", "kv_path": "--kv",
                "handler": "--handler"}
# The shipped descriptors: the top-level runtimes/ folder, installed inside the package as faasctl/_runtimes
# (see setup.py); a checkout or an editable install reads runtimes/ beside the package. Located by path
# rather than through importlib.resources, whose readers import zipfile and cost ~6 ms.
_PACKAGE = Path(__file__).resolve().parent
PACKAGED_RUNTIMES = _PACKAGE / "_runtimes"
if not PACKAGED_RUNTIMES.is_dir():
    PACKAGED_RUNTIMES = _PACKAGE.parent / "runtimes"


class RuntimeDescriptor(NamedTuple):
    name: str
    adapter: str
    endings: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    description: str = ""
    version: str = ""
    binary: dict[str, Any] | None = None
    limits: Mapping[str, Any] = MappingProxyType({})
    settings: Mapping[str, Any] = MappingProxyType({})
    accepts: tuple[str, ...] = ()  # RunOptions a runtime honours beyond the input, limits and output_json
    source_file: str = ""

    def adapter_class(self) -> type:
        """Import the adapter named ``module:Class`` on first use, so unused runtimes cost nothing."""
        module_name, _, class_name = self.adapter.partition(":")
        return getattr(import_module(module_name), class_name)

    def resource_text(self, name: str) -> str:
        """A file shipped beside the descriptor (preludes)."""
        return _read_resource(Path(self.source_file).parent, name)


def _read_resource(directory: Path, name: str) -> str:
    return (directory / name).read_text(encoding="utf-8")


def descriptor_from_mapping(data: Any, source: str) -> RuntimeDescriptor:
    """Validate one parsed YAML document; errors name the file and what is wrong."""
    if not isinstance(data, dict):
        raise ArtifactError(f"runtime descriptor {source}: expected a mapping, got {type(data).__name__}")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ArtifactError(f"runtime descriptor {source}: missing {', '.join(missing)}")
    known = {f for f in RuntimeDescriptor._fields if f != "source_file"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ArtifactError(f"runtime descriptor {source}: unknown keys {', '.join(unknown)}")
    if not isinstance(data["adapter"], str) or ":" not in data["adapter"]:
        raise ArtifactError(f"runtime descriptor {source}: adapter must be 'module:Class'")
    for key in ("endings", "aliases", "media_types", "accepts"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ArtifactError(f"runtime descriptor {source}: {key} must be a list of strings")
    endings = data["endings"]
    unknown_options = sorted(set(data.get("accepts", [])) - set(OPTION_FLAGS))
    if unknown_options:
        raise ArtifactError(f"runtime descriptor {source}: accepts unknown options {', '.join(unknown_options)}")
    if not all(e.startswith(".") for e in endings):
        raise ArtifactError(f"runtime descriptor {source}: endings must start with '.'")
    binary = data.get("binary")
    if binary is not None and (not isinstance(binary, dict) or "sha256" not in binary):
        raise ArtifactError(f"runtime descriptor {source}: binary needs a sha256 pin")
    return RuntimeDescriptor(
        name=str(data["name"]),
        adapter=data["adapter"],
        endings=tuple(endings),
        aliases=tuple(data.get("aliases", [])),
        media_types=tuple(data.get("media_types", [])),
        description=str(data.get("description", "")),
        version=str(data.get("version", "")),
        binary=binary,
        limits=dict(data.get("limits") or {}),
        settings=dict(data.get("settings") or {}),
        accepts=tuple(data.get("accepts", [])),
        source_file=source,
    )


def _read_descriptor(path: Path) -> bytes:
    from faasctl.files import TooLarge, read_capped
    from faasctl.limits import MAX_DOCUMENT, format_size

    try:
        return read_capped(path, MAX_DOCUMENT)
    except TooLarge as exc:
        raise UsageError(f"runtime descriptor {path} is larger than the {format_size(exc.cap)} cap") from None
    except OSError as exc:
        raise UsageError(f"cannot read runtime descriptor {path}: {exc.strerror or exc}") from None


class Registry:
    """All known runtimes. Built from the package's descriptors plus any extra directories."""

    def __init__(self, descriptors: list[RuntimeDescriptor]) -> None:
        self.descriptors = descriptors
        self._by_key: dict[str, RuntimeDescriptor] = {}
        for descriptor in descriptors:
            for key in (descriptor.name, *descriptor.aliases):
                self._by_key[key.lower()] = descriptor

    @classmethod
    def load(cls, cache_dir: Path | None = None, extra_dirs: tuple[Path, ...] = ()) -> Registry:
        directories = [PACKAGED_RUNTIMES, *extra_dirs]
        files = [p for d in directories for p in sorted(d.glob("*.yaml"))]
        blobs = [(str(p), _read_descriptor(p)) for p in files]
        key = hashlib.sha256(b"\0".join(n.encode() + b"\0" + b for n, b in blobs)).hexdigest()[:24]
        cached_path = cache_dir / f"registry-{key}.json" if cache_dir else None
        parsed = read_json(cached_path) if cached_path else None
        if not isinstance(parsed, list):
            parsed = [[name, _parse_yaml(data, name)] for name, data in blobs]
            if cached_path:
                try:
                    write_json_atomic(cached_path, parsed)
                except OSError:
                    pass
        by_name: dict[str, RuntimeDescriptor] = {}
        for name, data in parsed:  # later directories override earlier ones by runtime name
            descriptor = descriptor_from_mapping(data, name)
            by_name[descriptor.name] = descriptor
        return cls(list(by_name.values()))

    def names(self) -> list[str]:
        return [d.name for d in self.descriptors]

    def get(self, name: str) -> RuntimeDescriptor:
        descriptor = self._by_key.get(name.lower())
        if descriptor is None:
            raise UsageError(f"unknown runtime {name!r}", hint="known runtimes: " + ", ".join(self.names()))
        return descriptor

    def for_media_type(self, media_type: str) -> RuntimeDescriptor | None:
        return next((d for d in self.descriptors if media_type in d.media_types), None)

    def for_ending(self, ending: str) -> RuntimeDescriptor | None:
        return next((d for d in self.descriptors if ending.lower() in d.endings), None)

    def endings(self) -> list[str]:
        return [e for d in self.descriptors for e in d.endings]


def _parse_yaml(data: bytes, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ArtifactError(f"runtime descriptor {source} is not valid YAML: {' '.join(str(exc).split())}") from None


