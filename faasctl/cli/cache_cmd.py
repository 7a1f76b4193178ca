"""``faasctl cache ls`` and ``faasctl cache prune``: the content-addressed OCI cache."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cache", help="list or prune the OCI cache",
                            description="The OCI cache keeps pulled manifests, layers and modules by digest.",
                            epilog="examples:\n  faasctl cache ls --format json\n  faasctl cache prune",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="cache_command", metavar="ACTION")
    ls = verbs.add_parser("ls", help="list cached references and blobs")
    ls.add_argument("--format", "-f", choices=["text", "json"], default="text")
    prune = verbs.add_parser("prune", help="remove corrupt, partial and unreferenced blobs")
    prune.add_argument("--all", action="store_true", help="empty the whole OCI cache")
    parser.set_defaults(handler=handle)


def _store() -> Any:
    from faasctl.oci.cache import BlobStore
    from faasctl.paths import StateDirs

    return BlobStore(StateDirs.from_environment().cache / "oci")


def handle(args: argparse.Namespace) -> int:
    from faasctl.errors import UsageError

    if args.cache_command == "ls":
        return _ls(args.format)
    if args.cache_command == "prune":
        from faasctl.errors import ArtifactError

        try:
            return _prune(args.all)
        except OSError as exc:  # a read-only or foreign-owned cache: say so instead of claiming success
            raise ArtifactError(f"cannot prune the OCI cache in {_store().root}: {exc.strerror or exc}") from None
    raise UsageError("cache needs an action", hint="faasctl cache ls | faasctl cache prune")


def _ls(fmt: str) -> int:
    from faasctl.cli.common import write_json

    store = _store()
    tags = {doc.get("digest"): doc.get("reference") for doc in store.tags()}
    entries = []
    for digest, record in store.records():
        entries.append({"reference": tags.get(digest) or record.get("reference"), "digest": digest,
                        "module_digest": record.get("module"), "name": record.get("name"),
                        "size": record.get("size"), "pulled_at": record.get("pulled_at")})
    blobs = store.list()
    if fmt == "json":
        write_json({"directory": str(store.root), "references": entries,
                    "blobs": [{"digest": b.digest, "size": b.size} for b in blobs]})
        return 0
    if entries:
        width = max(len(str(e["reference"])) for e in entries)
        sys.stdout.write(f"{'REFERENCE':<{width}}  {'DIGEST':<19}  {'MODULE':<19}  {'SIZE':>10}  PULLED\n")
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e["pulled_at"] or 0))
            sys.stdout.write(f"{e['reference']!s:<{width}}  {str(e['digest'])[:19]:<19}  "
                             f"{str(e['module_digest'])[:19]:<19}  {e['size'] or 0:>10}  {when}\n")
    total = sum(b.size for b in blobs)
    sys.stderr.write(f"{len(entries)} references, {len(blobs)} blobs, {total} bytes in {store.root}\n")
    return 0


def _prune(everything: bool) -> int:
    from faasctl.errors import ArtifactError
    from faasctl.oci.cache import read_json

    store = _store()
    if everything:
        size = sum(b.size for b in store.list())
        if store.root.exists():
            shutil.rmtree(store.root)
        sys.stderr.write(f"removed the OCI cache ({size} bytes)\n")
        return 0
    removed = freed = 0
    if store.blobs.is_dir():
        for partial in store.blobs.glob(".partial-*"):
            freed += partial.stat().st_size
            partial.unlink(missing_ok=True)
            removed += 1
    keep: set[str] = set()
    for digest, record in store.records():
        blobs = [b for b in record.get("blobs") or [digest, record.get("module")] if isinstance(b, str)]
        try:
            store.read_verified(str(record.get("module")))
        except ArtifactError:
            store.resolved_path(digest).unlink(missing_ok=True)  # its module is gone: forget the record
            continue
        keep.update(blobs)
    for blob in store.list():
        if blob.digest in keep:
            try:
                store.read_verified(blob.digest)
                continue
            except ArtifactError:
                pass  # corrupt: read_verified removed it
        else:
            store.path(blob.digest).unlink(missing_ok=True)
        removed += 1
        freed += blob.size
    for tag_file in (store.root / "tags").rglob("*.json") if (store.root / "tags").is_dir() else []:
        doc = read_json(tag_file)
        try:
            known = bool(doc) and store.resolved(str(doc.get("digest"))) is not None
        except ArtifactError:  # a malformed digest in a hand-edited file
            known = False
        if not known:
            tag_file.unlink(missing_ok=True)
    sys.stderr.write(f"removed {removed} blobs, freed {freed} bytes\n")
    return 0
