"""``faasctl runtimes``: the registry, with version, pinned digest and compile-cache state."""

from __future__ import annotations

import argparse

from faasctl.wasm.cachepaths import module_cache_path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("runtimes", help="list the runtimes", epilog="example: faasctl runtimes --format json",
                            description="List the registered runtimes: name, aliases, file endings, version, "
                                        "pinned SHA-256 and whether the compiled module is cached.")
    parser.add_argument("--format", "-f", choices=["table", "json"], default="table")
    parser.add_argument("--config", metavar="FILE", help="config file")
    parser.set_defaults(handler=handle)


def runtime_rows(engine) -> list[dict]:  # noqa: ANN001
    rows = []
    for descriptor in engine.registry.descriptors:
        binary = descriptor.binary or {}
        digest = str(binary.get("sha256", "")) or None
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


def handle(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine, write_json

    engine = build_engine(args)
    rows = runtime_rows(engine)
    if args.format == "json":
        write_json(rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="faasctl runtimes")
    for column in ("name", "aliases", "endings", "version", "sha256", "compiled"):
        table.add_column(column)
    for row in rows:
        cached = {True: "cached", False: "not yet", None: "n/a"}[row["cached"]]
        table.add_row(row["name"], ", ".join(row["aliases"]), " ".join(row["endings"]), row["version"],
                      (row["sha256"] or "-")[:16], cached)
    Console().print(table)
    return 0
