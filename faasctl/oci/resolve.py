"""``oci://`` targets for the engine: the cache first (as the pull policy allows), else a verified pull.

``Settings.oci`` keys: ``pull`` ("missing" default, "always", "never"), ``offline`` (cache only),
``insecure`` (plain HTTP to a non-loopback registry), ``username``/``password``, ``docker_config``
(the directory holding config.json), ``max_size`` (bytes, default 256 MiB), ``timeout`` (seconds),
``progress`` (a factory ``(label, total) -> bar`` with ``update(n)`` and ``close()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faasctl.errors import ArtifactError, UsageError
from faasctl.oci.cache import DEFAULT_MAX_SIZE, BlobStore, CorruptEntry
from faasctl.oci.credentials import Credentials
from faasctl.oci.reference import Reference, parse_reference
from faasctl.runtimes.base import Artifact

if TYPE_CHECKING:  # the network half (urllib, http.client, ssl: ~30 ms) loads only when a pull happens
    from faasctl.oci.pull import Pulled, PullOptions

MEDIA_TYPE = "application/wasm"
POLICIES = ("missing", "always", "never")


def store_for(settings: Any) -> BlobStore:
    return BlobStore(settings.cache_dir / "oci")


def pull_options(oci: dict[str, Any], ref: Reference) -> PullOptions:
    from faasctl.oci.pull import PullOptions

    credentials = None
    if oci.get("username"):
        credentials = Credentials(str(oci["username"]), str(oci.get("password") or ""))
    elif oci.get("docker_config"):
        from faasctl.oci.credentials import lookup

        credentials = lookup(oci["docker_config"], ref.registry)
    return PullOptions(credentials=credentials, insecure=bool(oci.get("insecure")),
                       max_size=int(oci.get("max_size") or DEFAULT_MAX_SIZE),
                       timeout=float(oci.get("timeout") or 30.0), progress=oci.get("progress"))


def resolve_reference(text: str, settings: Any) -> Artifact:
    """The module ``text`` names, as an ``Artifact`` with media type ``application/wasm``.

    Raises ``UsageError`` for a malformed reference or policy and ``ArtifactError`` for everything
    the registry or the cache gets wrong (unreachable, unauthorised, unknown, tampered, corrupt)."""
    oci = settings.oci or {}
    ref = parse_reference(text)
    policy = "never" if oci.get("offline") else str(oci.get("pull") or "missing")
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
                    why = "--offline" if oci.get("offline") else "--pull never"
                    raise ArtifactError(f"{exc.message.replace(', pull again', '')}; {why} forbids pulling "
                                        "it again") from None
        if policy == "never":
            why = "--offline" if oci.get("offline") else "--pull never"
            raise ArtifactError(f"{ref} is not in the local cache and {why} forbids pulling it",
                                hint=f"run: faasctl pull oci://{ref}")
    from faasctl.oci.pull import pull

    pulled = pull(ref, store, pull_options(oci, ref))
    return artifact_from_pulled(store, ref, pulled)


def artifact_from_record(store: BlobStore, ref: Reference, digest: str, record: dict[str, Any]) -> Artifact:
    module = record.get("module")
    if not isinstance(module, str):
        raise CorruptEntry(f"cache record of {ref} ({digest}) is corrupt")
    source = store.read_verified(module)
    annotations = record.get("annotations") if isinstance(record.get("annotations"), dict) else {}
    return Artifact(name=str(record.get("name") or ref.repository.rsplit("/", 1)[-1] + ".wasm"), source=source,
                    digest=module.split(":", 1)[1], ending=".wasm", media_type=MEDIA_TYPE,
                    annotations={str(k): str(v) for k, v in annotations.items()})


def artifact_from_pulled(store: BlobStore, ref: Reference, pulled: Pulled) -> Artifact:
    return artifact_from_record(store, ref, pulled.digest, pulled.record())
