"""``faasctl runtimes``: the registry, with version, pinned digest and compile-cache state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import Command, Config, choice, namespace, verb_app

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment


app = verb_app()


@app.command("runtimes", cls=Command, epilog="example: faasctl runtimes --format json", short_help="list the runtimes",
             help="List the registered runtimes: name, aliases, file endings, version, pinned SHA-256 and whether "
                  "the compiled module is cached.")
def runtimes(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("table", "json"),
                                        help="a table for people or JSON")] = "table",
    config: Config = None,
) -> int:
    return handle(namespace(locals()), ctx.obj)


def runtime_rows(engine: Any) -> list[dict[str, Any]]:
    from faasctl.wasm.cachepaths import module_cache_path
    from faasctl.wasm.component_build import built_state

    rows = []
    for descriptor in engine.registry.descriptors:
        binary = descriptor.binary or {}
        digest = str(binary.get("sha256", "")) or None
        if descriptor.settings.get("build"):  # built here (the Python component): its recorded digest
            state = built_state(descriptor, engine.cache_dir)
            digest = state["sha256"] if state else None
        cached = module_cache_path(engine.cache_dir, digest).exists() if digest else None
        rows.append({
            "name": descriptor.name,
            "aliases": list(descriptor.aliases),
            "endings": list(descriptor.endings),
            "version": descriptor.version,
            "sha256": digest,
            "cached": cached,
            "description": descriptor.description,
        })
    return rows


def handle(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine, write_json

    engine = build_engine(args, env)
    rows = runtime_rows(engine)
    if args.format == "json":
        write_json(rows, env)
        return 0
    from rich.table import Table

    table = Table(title="faasctl runtimes")
    for column in ("name", "aliases", "endings", "version", "sha256", "compiled"):
        table.add_column(column)
    for row in rows:
        cached = {True: "cached", False: "not yet", None: "n/a"}[row["cached"]]
        table.add_row(row["name"], ", ".join(row["aliases"]), " ".join(row["endings"]), row["version"],
                      (row["sha256"] or "-")[:16], cached)
    env.console().print(table)
    return 0
