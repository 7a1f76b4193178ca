"""``oci://`` targets for the engine: the cache first (as the pull policy allows), else a verified pull.

How to pull is ``Settings.oci`` (an ``OciSettings``); the policy can be overridden per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from faasctl.errors import ArtifactError, UsageError
from faasctl.invocation import Artifact
from faasctl.oci.cache import BlobStore, CorruptEntry
from faasctl.oci.credentials import Credentials
from faasctl.oci.reference import Reference, parse_reference
from faasctl.settings import OciSettings

if TYPE_CHECKING:  # the network half (urllib, http.client, ssl: ~30 ms) loads only when a pull happens
    from faasctl.oci.pull import Pulled, PullOptions

MEDIA_TYPE = "application/wasm"
POLICIES = ("missing", "always", "never")


def store_for(settings: Any) -> BlobStore:
    return BlobStore(settings.cache_dir / "oci")


def pull_options(settings: OciSettings | Mapping[str, Any], ref: Reference) -> PullOptions:
    from faasctl.oci.pull import PullOptions

    oci = OciSettings.of(settings)
    credentials = None
    if oci.username:
        credentials = Credentials(oci.username, oci.password or "")
    elif oci.docker_config:
        from faasctl.oci.credentials import lookup

        credentials = lookup(oci.docker_config, ref.registry)
    return PullOptions(credentials=credentials, insecure=oci.insecure, max_size=oci.max_size,
                       timeout=oci.timeout, progress=oci.progress)


def resolve_reference(text: str, settings: Any, pull: str | None = None) -> Artifact:
    """The module ``text`` names, as an ``Artifact`` with media type ``application/wasm``; ``pull``
    (a policy) overrides the settings' own, ``offline`` still wins.

    Raises ``UsageError`` for a malformed reference or policy and ``ArtifactError`` for everything
    the registry or the cache gets wrong (unreachable, unauthorised, unknown, tampered, corrupt)."""
    oci = OciSettings.of(settings.oci)
    ref = parse_reference(text)
    policy = "never" if oci.offline else str(pull or oci.pull or "missing")
    if policy not in POLICIES:
        raise UsageError(f"unknown pull policy {policy!r}", hint="use always, missing or never")
    store = store_for(settings)
    if policy != "always":
        digest = ref.digest or store.tag_digest(ref)
        record = store.resolved(digest) if digest else None
        if digest and record:
            try:
                return artifact_from_record(store, ref, digest, record)
            except CorruptEntry as exc:
                if policy == "never":
                    why = "--offline" if oci.offline else "--pull never"
                    raise ArtifactError(f"{exc.message.replace(', pull again', '')}; {why} forbids pulling "
                                        "it again") from None
        if policy == "never":
            why = "--offline" if oci.offline else "--pull never"
            raise ArtifactError(f"{ref} is not in the local cache and {why} forbids pulling it",
                                hint=f"run: faasctl pull oci://{ref}")
    from faasctl.oci.pull import pull as pull_module

    pulled = pull_module(ref, store, pull_options(oci, ref))
    return artifact_from_pulled(store, ref, pulled)


def artifact_from_record(store: BlobStore, ref: Reference, digest: str, record: dict[str, Any]) -> Artifact:
    module = record.get("module")
    if not isinstance(module, str):
        raise CorruptEntry(f"cache record of {ref} ({digest}) is corrupt")
    source = store.read_verified(module)
    annotations = record.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    return Artifact(name=str(record.get("name") or ref.repository.rsplit("/", 1)[-1] + ".wasm"), source=source,
                    digest=module.split(":", 1)[1], ending=".wasm", media_type=MEDIA_TYPE,
                    annotations={str(k): str(v) for k, v in annotations.items()})


def artifact_from_pulled(store: BlobStore, ref: Reference, pulled: Pulled) -> Artifact:
    return artifact_from_record(store, ref, pulled.digest, pulled.record())
