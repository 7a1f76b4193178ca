"""``faasctl pull REF`` and ``faasctl push FILE REF``: OCI distribution of single functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import ABIS, Command, choice, complete_path, namespace, verb_app
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

PULL_EXAMPLES = """examples:
  faasctl pull oci://127.0.0.1:5000/hello:v1
  faasctl pull registry.example.com/team/resize@sha256:<64 hex digits> --format json"""
PUSH_EXAMPLES = """examples:
  faasctl push hello.wasm oci://127.0.0.1:5000/hello:v1
  faasctl push authentication.wasm 127.0.0.1:5000/authentication-wasm:v4 --format docker   # for WasmEngine
  echo "$TOKEN" | faasctl push f.wat registry.example.com/team/f:1.0 --username ci --password-stdin"""


app = verb_app()
User = Annotated[str | None, typer.Option("--username", "-u", metavar="USER",
                                          help="registry user (default: the docker config login)")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="read the registry password from stdin")]
Insecure = Annotated[bool, typer.Option("--insecure", help="allow plain HTTP to a non-loopback registry")]
Format = Annotated[str, typer.Option("--format", "-f", click_type=choice("text", "json"),
                                     help="print the digest alone (text) or a JSON summary")]


@app.command("pull", cls=Command, epilog=PULL_EXAMPLES,
             short_help="pull a function from an OCI registry into the cache",
             help="Pull, verify and cache a WebAssembly function; prints the resolved digest.")
def pull(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", show_default=False,
                                       help=r"\[oci://]REGISTRY/REPOSITORY\[:TAG]\[@sha256:DIGEST]")],
    max_size: Annotated[str, typer.Option("--max-size", metavar="SIZE", help="largest layer accepted")] = "256MiB",
    username: User = None,
    password_stdin: PasswordStdin = False,
    insecure: Insecure = False,
    format: Format = "text",
) -> int:
    return handle_pull(namespace(locals()), ctx.obj)


@app.command("push", cls=Command, epilog=PUSH_EXAMPLES, short_help="push a .wasm/.wat function to an OCI registry",
             help="Push a module as a CNCF wasm artifact (config application/vnd.wasm.config.v0+json, one "
                  "application/wasm layer); prints the manifest digest.")
def push(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help=".wasm or .wat file", show_default=False,
                                        autocompletion=complete_path)],
    ref: Annotated[str, typer.Argument(metavar="REF", help=r"\[oci://]REGISTRY/REPOSITORY\[:TAG]",
                                       show_default=False)],
    abi: Annotated[str | None, typer.Option("--abi", click_type=choice(*ABIS),
                                            help="ABI to record (default: detected)")] = None,
    runtime: Annotated[str, typer.Option("--runtime", help="runtime to record")] = "wasm",
    annotation: Annotated[list[str] | None, typer.Option("--annotation", metavar="KEY=VALUE", show_default=False,
                                                         help="extra manifest annotation; repeatable")] = None,
    username: User = None,
    password_stdin: PasswordStdin = False,
    insecure: Insecure = False,
    format: Annotated[list[str] | None, typer.Option(
        "--format", "-f", click_type=choice("text", "json", "oci", "docker"), show_default=False,
        help="image format: oci (a CNCF wasm artifact, default) or docker (a FROM scratch image with /NAME.wasm "
             "in one tar.gzip layer, as openEuler WasmEngine pulls); output: text (the digest alone, default) "
             "or json (a summary); give both with two --format")] = None,
) -> int:
    return handle_push(namespace(locals()), ctx.obj)


def cli_oci_settings(env: Environment) -> dict[str, Any]:
    """What every edge adds to ``Settings.oci``: the docker config dir, and progress bars on a terminal."""
    from faasctl.oci.credentials import docker_config_dir

    settings: dict[str, Any] = {"docker_config": str(docker_config_dir())}
    if env.stderr_isatty:
        settings["progress"] = lambda label, total: _RichBar(label, total, env.console(stderr=True))
    return settings


class _RichBar:
    """One rich progress bar for one download; rich is imported only when a bar is shown."""

    def __init__(self, label: str, total: int, console: Any) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), transient=True,
                                  console=console)
        self._task = self._progress.add_task(label, total=total)
        self._progress.start()

    def update(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def close(self) -> None:
        self._progress.stop()


def _credentials_settings(args: Any, env: Environment) -> dict[str, Any]:
    if args.password_stdin:
        if not args.username:
            raise UsageError("--password-stdin needs --username")
        line = (env.stdin.readline() if env.stdin is not None else b"").decode("utf-8", "replace")
        password = line.rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin read an empty password")
        return {"username": args.username, "password": password}
    if args.username:
        raise UsageError("--username needs --password-stdin (passwords are never taken on the command line)")
    return {}


def handle_pull(args: Any, env: Environment) -> int:
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
    oci = {**cli_oci_settings(env), **_credentials_settings(args, env), "insecure": args.insecure, "max_size": max_size}
    ref = parse_reference(args.ref)
    from faasctl.oci.pull import pull

    store = BlobStore(StateDirs.from_environment().cache / "oci")
    pulled = pull(ref, store, pull_options(oci, ref))
    if args.format == "json":
        write_json({"reference": pulled.reference, "digest": pulled.digest, "module_digest": pulled.module_digest,
                    "name": pulled.name, "size": pulled.size, "layer_media_type": pulled.layer_media_type,
                    "annotations": pulled.annotations}, env)
    else:
        env.stderr.write(f"pulled {pulled.reference}: {pulled.name}, {pulled.size} bytes, "
                         f"module {pulled.module_digest}\n")
        env.stdout.write(pulled.digest + "\n")
    return 0


def push_formats(values: list[str]) -> tuple[str, str]:
    """``--format`` values of push to (output format, image format): text/json name the output (as for
    pull), oci/docker the image (as ``buildah push --format`` does)."""
    outputs = [v for v in values if v in ("text", "json")]
    images = [v for v in values if v in ("oci", "docker")]
    if len(set(outputs)) > 1 or len(set(images)) > 1:
        raise UsageError("--format given twice with different values",
                         hint="one of text/json and one of oci/docker, e.g. --format docker --format json")
    return (outputs[0] if outputs else "text"), (images[0] if images else "oci")


def handle_push(args: Any, env: Environment) -> int:
    from pathlib import Path

    from faasctl.cli.common import write_json
    from faasctl.oci.credentials import Credentials, docker_config_dir, lookup
    from faasctl.oci.push import push
    from faasctl.oci.reference import parse_reference

    annotations = {}
    for item in args.annotation or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--annotation {item!r}: expected KEY=VALUE")
        annotations[key] = value
    ref = parse_reference(args.ref)
    given = _credentials_settings(args, env)
    credentials = (Credentials(given["username"], given["password"]) if given
                   else lookup(docker_config_dir(), ref.registry))
    output, image_format = push_formats(args.format or [])
    pushed = push(Path(args.file), ref, credentials=credentials, insecure=args.insecure, abi=args.abi,
                  runtime=args.runtime, annotations=annotations, image_format=image_format)
    if output == "json":
        write_json({"reference": pushed.reference, "digest": pushed.digest, "module_digest": pushed.module_digest,
                    "size": pushed.size}, env)
    else:
        env.stderr.write(f"pushed {pushed.reference} ({pushed.size} bytes)\n")
        env.stdout.write(pushed.digest + "\n")
    return 0
