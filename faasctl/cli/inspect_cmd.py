"""``faasctl inspect TARGET``: a module's imports, exports, detected ABI, memory and capabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import ABIS, Command, Config, choice, complete_path, namespace, verb_app

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl inspect examples/gcd.wat
  faasctl inspect fn.wasm --format json | jq .abi
  faasctl inspect oci://localhost:5000/fns/echo:1 --offline"""


app = verb_app()


@app.command("inspect", cls=Command, epilog=EXAMPLES,
             short_help="show what a WebAssembly module imports, exports and needs",
             help="Show a WebAssembly module's imports (and which faasctl provides), exports, the ABI `faasctl run` "
                  "would use, its memories and the capabilities it needs.")
def inspect(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="TARGET", help=".wasm or .wat file, or oci://REF",
                                          show_default=False, autocompletion=complete_path)],
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("table", "json"),
                                        help="tables for people or a JSON report")] = "table",
    invoke: Annotated[str | None, typer.Option("--invoke", metavar="NAME",
                                               help="the export `run --invoke` would call")] = None,
    abi: Annotated[str | None, typer.Option("--abi", click_type=choice(*ABIS),
                                            help="force the calling convention")] = None,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", help="memory limit to check the module against (default 256MiB)")] = None,
    config: Config = None,
    offline: Annotated[bool, typer.Option("--offline", help="use the local OCI cache only")] = False,
    insecure: Annotated[bool, typer.Option("--insecure",
                                           help="allow plain HTTP to a non-loopback registry")] = False,
) -> int:
    return handle(namespace(locals()), ctx.obj)


def handle(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine, write_json
    from faasctl.wasm.inspect import inspect_module, require_wasm

    engine = build_engine(args, env, oci={"pull": "missing", "offline": args.offline, "insecure": args.insecure})
    artifact = engine.resolve(args.target)
    descriptor = engine.select_runtime(artifact)
    require_wasm(descriptor.name, artifact)
    limits = engine.limits_for(descriptor, {"memory": args.memory})
    report = inspect_module(engine.wasm_host(), artifact, invoke=args.invoke, abi=args.abi,
                            memory_limit=limits.memory)
    if args.format == "json":
        write_json(report, env)
    else:
        render(report, env)
    return 0


def render(report: dict[str, Any], env: Environment) -> None:
    from rich.table import Table

    console = env.console()
    abi = report["abi"] or "[red]unknown[/red]"
    entry = f" calls [bold]{report['entry']}[/bold]" if report["entry"] else ""
    console.print(f"[bold]{report['name']}[/bold] ({report['format']}, {report['size']} bytes, "
                  f"{report['digest'][:19]}…)")
    console.print(f"ABI: [bold]{abi}[/bold]{entry} — {report['reason']}")
    imports = Table(title="imports", title_justify="left")
    for column in ("module", "name", "kind", "type", "provided by"):
        imports.add_column(column)
    for row in report["imports"]:
        imports.add_row(row["module"], row["name"], row["kind"], row["type"],
                        row["provided_by"] or "[red]nothing (cannot link)[/red]")
    exports = Table(title="exports", title_justify="left")
    for column in ("name", "kind", "type"):
        exports.add_column(column)
    for row in report["exports"]:
        exports.add_row(row["name"], row["kind"], row["type"])
    memories = Table(title="memories", title_justify="left")
    for column in ("memory", "min", "max", "fits limit"):
        memories.add_column(column)
    for row in report["memories"]:
        high = "unbounded" if row["max_bytes"] is None else _size(row["max_bytes"])
        fits = "yes" if row.get("fits_limit", True) else f"[red]no ({row.get('limit')})[/red]"
        memories.add_row(row["memory"], _size(row["min_bytes"]), high, fits)
    capabilities = Table(title="capabilities", title_justify="left")
    for column in ("capability", "granted by", "imports"):
        capabilities.add_column(column)
    for row in report["capabilities"]:
        capabilities.add_row(row["capability"], row["granted_by"] or "always",
                             ", ".join(i.split(".", 1)[1] for i in row["imports"]))
    for table in (imports, exports, memories, capabilities):
        if table.row_count:
            console.print(table)
    if not report["capabilities"]:
        console.print("capabilities: none (pure computation)")


def _size(value: int) -> str:
    from faasctl.limits import format_size

    return format_size(value) if value else "0"
