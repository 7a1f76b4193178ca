"""``faasctl pull REF`` and ``faasctl push FILE REF``: OCI distribution of single functions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from faasctl.errors import UsageError

PULL_EXAMPLES = """examples:
  faasctl pull oci://127.0.0.1:5000/hello:v1
  faasctl pull registry.example.com/team/resize@sha256:<64 hex digits> --format json"""
PUSH_EXAMPLES = """examples:
  faasctl push hello.wasm oci://127.0.0.1:5000/hello:v1
  echo "$TOKEN" | faasctl push f.wat registry.example.com/team/f:1.0 --username ci --password-stdin"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", "-u", metavar="USER", help="registry user (default: the docker config login)")
    parser.add_argument("--password-stdin", action="store_true", help="read the registry password from stdin")
    parser.add_argument("--insecure", action="store_true", help="allow plain HTTP to a non-loopback registry")
    parser.add_argument("--format", "-f", choices=["text", "json"], default="text",
                        help="print the digest alone (text) or a JSON summary")


def add_parser(sub: argparse._SubParsersAction) -> None:
    pull = sub.add_parser("pull", help="pull a function from an OCI registry into the cache", epilog=PULL_EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="Pull, verify and cache a WebAssembly function; prints the resolved digest.")
    pull.add_argument("ref", help="[oci://]REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    pull.add_argument("--max-size", metavar="SIZE", default="256MiB", help="largest layer accepted (default 256MiB)")
    _common(pull)
    pull.set_defaults(handler=handle_pull)
    push = sub.add_parser("push", help="push a .wasm/.wat function to an OCI registry", epilog=PUSH_EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="Push a module as a CNCF wasm artifact (config application/vnd.wasm.config."
                                      "v0+json, one application/wasm layer); prints the manifest digest.")
    push.add_argument("file", help=".wasm or .wat file")
    push.add_argument("ref", help="[oci://]REGISTRY/REPOSITORY[:TAG]")
    push.add_argument("--abi", choices=["wasi", "string", "core"], help="ABI to record (default: detected)")
    push.add_argument("--runtime", default="wasm", help="runtime to record (default wasm)")
    push.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE",
                      help="extra manifest annotation (repeatable)")
    _common(push)
    push.set_defaults(handler=handle_push)


def cli_oci_settings(stderr_tty: bool | None = None) -> dict[str, Any]:
    """What every edge adds to ``Settings.oci``: the docker config dir, and progress bars on a terminal."""
    from faasctl.oci.credentials import docker_config_dir

    tty = sys.stderr.isatty() if stderr_tty is None else stderr_tty
    settings: dict[str, Any] = {"docker_config": str(docker_config_dir())}
    if tty:
        settings["progress"] = rich_progress
    return settings


class _RichBar:
    """One rich progress bar for one download; rich is imported only when a bar is shown."""

    def __init__(self, label: str, total: int) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), transient=True,
                                  console=_stderr_console())
        self._task = self._progress.add_task(label, total=total)
        self._progress.start()

    def update(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def close(self) -> None:
        self._progress.stop()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def rich_progress(label: str, total: int) -> _RichBar:
    return _RichBar(label, total)


def _credentials_settings(args: argparse.Namespace) -> dict[str, Any]:
    if args.password_stdin:
        if not args.username:
            raise UsageError("--password-stdin needs --username")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin read an empty password")
        return {"username": args.username, "password": password}
    if args.username:
        raise UsageError("--username needs --password-stdin (passwords are never taken on the command line)")
    return {}


def handle_pull(args: argparse.Namespace) -> int:
    from faasctl.cli.common import write_json
    from faasctl.limits import parse_size
    from faasctl.oci.cache import BlobStore
    from faasctl.oci.reference import parse_reference
    from faasctl.oci.resolve import pull_options
    from faasctl.paths import StateDirs

    try:
        max_size = parse_size(args.max_size)
    except ValueError as exc:
        raise UsageError(f"--max-size: {exc}") from None
    oci = {**cli_oci_settings(), **_credentials_settings(args), "insecure": args.insecure, "max_size": max_size}
    ref = parse_reference(args.ref)
    from faasctl.oci.pull import pull

    store = BlobStore(StateDirs.from_environment().cache / "oci")
    pulled = pull(ref, store, pull_options(oci, ref))
    if args.format == "json":
        write_json({"reference": pulled.reference, "digest": pulled.digest, "module_digest": pulled.module_digest,
                    "name": pulled.name, "size": pulled.size, "layer_media_type": pulled.layer_media_type,
                    "annotations": pulled.annotations})
    else:
        sys.stderr.write(f"pulled {pulled.reference}: {pulled.name}, {pulled.size} bytes, "
                         f"module {pulled.module_digest}\n")
        sys.stdout.write(pulled.digest + "\n")
    return 0


def handle_push(args: argparse.Namespace) -> int:
    from pathlib import Path

    from faasctl.cli.common import write_json
    from faasctl.oci.credentials import Credentials, docker_config_dir, lookup
    from faasctl.oci.push import push
    from faasctl.oci.reference import parse_reference

    annotations = {}
    for item in args.annotation:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--annotation {item!r}: expected KEY=VALUE")
        annotations[key] = value
    ref = parse_reference(args.ref)
    given = _credentials_settings(args)
    credentials = (Credentials(given["username"], given["password"]) if given
                   else lookup(docker_config_dir(), ref.registry))
    pushed = push(Path(args.file), ref, credentials=credentials, insecure=args.insecure, abi=args.abi,
                  runtime=args.runtime, annotations=annotations)
    if args.format == "json":
        write_json({"reference": pushed.reference, "digest": pushed.digest, "module_digest": pushed.module_digest,
                    "size": pushed.size})
    else:
        sys.stderr.write(f"pushed {pushed.reference} ({pushed.size} bytes)\n")
        sys.stdout.write(pushed.digest + "\n")
    return 0
