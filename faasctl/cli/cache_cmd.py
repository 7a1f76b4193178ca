"""``faasctl cache ls`` and ``faasctl cache prune``: the content-addressed OCI cache."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import HELP_OPTIONS, Command, Group, choice, verb_app
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl cache ls --format json
  faasctl cache prune"""


app = verb_app()
cache_app = typer.Typer(cls=Group, help="The OCI cache keeps pulled manifests, layers and modules by digest.",
                        short_help="list or prune the OCI cache", epilog=EXAMPLES, rich_markup_mode="rich",
                        invoke_without_command=True, context_settings=HELP_OPTIONS)
app.add_typer(cache_app, name="cache")


@cache_app.callback()
def cache(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        raise UsageError("cache needs an action", hint="faasctl cache ls | faasctl cache prune")


@cache_app.command("ls", cls=Command, help="list cached references and blobs")
def ls(ctx: typer.Context,
       format: Annotated[str, typer.Option("--format", "-f", click_type=choice("text", "json"),
                                           help="a table or a JSON document")] = "text") -> int:
    return _ls(format, ctx.obj)


@cache_app.command("prune", cls=Command, help="remove corrupt, partial and unreferenced blobs")
def prune(ctx: typer.Context,
          all: Annotated[bool, typer.Option("--all", help="empty the whole OCI cache")] = False) -> int:
    return handle_prune(all, ctx.obj)


def _store() -> Any:
    from faasctl.oci.cache import BlobStore
    from faasctl.paths import StateDirs

    return BlobStore(StateDirs.from_environment().cache / "oci")


def handle_prune(everything: bool, env: Environment) -> int:
    from faasctl.errors import ArtifactError

    try:
        return _prune(everything, env)
    except OSError as exc:  # a read-only or foreign-owned cache: say so instead of claiming success
        raise ArtifactError(f"cannot prune the OCI cache in {_store().root}: {exc.strerror or exc}") from None


def _ls(fmt: str, env: Environment) -> int:
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
                    "blobs": [{"digest": b.digest, "size": b.size} for b in blobs]}, env)
        return 0
    if entries:
        width = max(len(str(e["reference"])) for e in entries)
        env.stdout.write(f"{'REFERENCE':<{width}}  {'DIGEST':<19}  {'MODULE':<19}  {'SIZE':>10}  PULLED\n")
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e["pulled_at"] or 0))
            env.stdout.write(f"{e['reference']!s:<{width}}  {str(e['digest'])[:19]:<19}  "
                             f"{str(e['module_digest'])[:19]:<19}  {e['size'] or 0:>10}  {when}\n")
    total = sum(b.size for b in blobs)
    env.stderr.write(f"{len(entries)} references, {len(blobs)} blobs, {total} bytes in {store.root}\n")
    return 0


def _prune(everything: bool, env: Environment) -> int:
    from faasctl.errors import ArtifactError
    from faasctl.oci.cache import read_json

    store = _store()
    if everything:
        size = sum(b.size for b in store.list())
        if store.root.exists():
            shutil.rmtree(store.root)
        env.stderr.write(f"removed the OCI cache ({size} bytes)\n")
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
        doc = read_json(tag_file) or {}
        try:
            known = bool(doc) and store.resolved(str(doc.get("digest"))) is not None
        except ArtifactError:  # a malformed digest in a hand-edited file
            known = False
        if not known:
            tag_file.unlink(missing_ok=True)
    env.stderr.write(f"removed {removed} blobs, freed {freed} bytes\n")
    return 0
