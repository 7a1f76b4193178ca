"""``faasctl inspect TARGET``: a module's imports, exports, detected ABI, memory and capabilities."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """examples:
  faasctl inspect examples/gcd.wat
  faasctl inspect fn.wasm --format json | jq .abi
  faasctl inspect oci://localhost:5000/fns/echo:1 --offline"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("inspect", help="show what a WebAssembly module imports, exports and needs",
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Show a WebAssembly module's imports (and which faasctl provides), exports, "
                                        "the ABI `faasctl run` would use, its memories and the capabilities it needs.")
    parser.add_argument("target", help=".wasm or .wat file, or oci://REF")
    parser.add_argument("--format", "-f", choices=["table", "json"], default="table")
    parser.add_argument("--invoke", metavar="NAME", help="the export `run --invoke` would call")
    parser.add_argument("--abi", choices=["wasi", "string", "core"], help="force the calling convention")
    parser.add_argument("--memory", metavar="SIZE", help="memory limit to check the module against (default 256MiB)")
    parser.add_argument("--config", metavar="FILE", help="config file")
    parser.add_argument("--offline", action="store_true", help="use the local OCI cache only")
    parser.add_argument("--insecure", action="store_true", help="allow plain HTTP to a non-loopback registry")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine, write_json
    from faasctl.wasm.inspect import inspect_module, require_wasm

    engine = build_engine(args, oci={"pull": "missing", "offline": args.offline, "insecure": args.insecure})
    artifact = engine.resolve(args.target)
    descriptor = engine.select_runtime(artifact)
    require_wasm(descriptor.name, artifact)
    limits = engine.limits_for(descriptor, {"memory": args.memory})
    report = inspect_module(engine.wasm_host(), artifact, invoke=args.invoke, abi=args.abi,
                            memory_limit=limits.memory)
    if args.format == "json":
        write_json(report)
    else:
        render(report)
    return 0


def render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
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
