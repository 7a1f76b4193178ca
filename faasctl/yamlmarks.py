"""YAML with line numbers: mappings and lists remember where they and their keys/items start.

Case files and config files are written by hand, so every validation error should point at a line.
PyYAML forgets marks once objects are constructed; this loader keeps them on dict/list subclasses.
Import only where a YAML file is actually read (``import yaml`` costs ~30 ms).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from faasctl.errors import UsageError


class MarkedDict(dict):
    """A mapping with ``line`` (where it starts) and ``key_lines`` (key -> line), 1-based."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class MarkedList(list):
    """A sequence with ``line`` and ``item_lines`` (index -> line), 1-based."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


class DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _merge_sources(loader: _Loader, node: yaml.Node) -> list[dict[Any, Any]]:
    """The mappings a ``<<:`` value brings in, earliest first (the earliest wins).

    Done here rather than by PyYAML's ``flatten_mapping``, whose precedence for ``<<: [*a, *b]`` changed
    between 6.0.x releases: the YAML merge-key spec says earlier mappings override later ones."""
    if isinstance(node, yaml.MappingNode):
        nodes: list[yaml.Node] = [node]
    elif isinstance(node, yaml.SequenceNode):
        nodes = list(node.value)
    else:
        nodes = [node]
    sources = []
    for item in nodes:
        if not isinstance(item, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"<< merges mappings only, found a {type(item).__name__}", item.start_mark)
        sources.append(loader.construct_object(item, deep=True))
    return sources


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data = MarkedDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    merged: dict[Any, Any] = {}
    merged_lines: dict[Any, int] = {}
    explicit: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE_TAG:
            explicit.append((key_node, value_node))
            continue
        for source in reversed(_merge_sources(loader, value_node)):
            merged.update(source)
            lines = getattr(source, "key_lines", {})
            merged_lines.update({key: lines.get(key, key_node.start_mark.line + 1) for key in source})
    data.update(merged)
    data.key_lines.update(merged_lines)
    # a key written in the mapping itself overrides a merged one; only keys written twice are duplicates
    written: set[Any] = set()
    for key_node, value_node in explicit:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark) from None
        if key in written:
            raise DuplicateKey(key, key_node.start_mark.line + 1)
        written.add(key)
        data.key_lines[key] = key_node.start_mark.line + 1
        data[key] = loader.construct_object(value_node, deep=True)


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Any:
    data = MarkedList()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_marked(text: str, source: str) -> Any:
    """Parse one YAML document; syntax errors become ``UsageError('FILE:LINE: ...')``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        raise UsageError(f"{source}:{exc.line}: duplicate key {exc.key!r}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise UsageError(f"{source}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise UsageError(f"{source}: nested too deeply") from None


MAX_EXPANDED_NODES = 1_000_000


def expanded_size(value: Any, source: str) -> int:
    """Values counted as if aliases were copied out; rejects alias cycles and alias bombs
    (``&a [1,1,...]`` nested a few levels expands to billions of values once turned into JSON)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(item: Any) -> int:
        if not isinstance(item, dict | list):
            return 1
        key = id(item)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise UsageError(f"{source}:{getattr(item, 'line', 1)}: a YAML alias refers to itself")
        active.add(key)
        children = list(item.values()) if isinstance(item, dict) else item
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                raise UsageError(f"{source}:{getattr(item, 'line', 1)}: more than {MAX_EXPANDED_NODES:,} values "
                                 f"once YAML aliases are expanded")
        active.discard(key)
        sizes[key] = total
        return total

    try:
        return size(value)
    except RecursionError:
        raise UsageError(f"{source}: nested too deeply") from None


def read_marked(path: Path) -> Any:
    """Read and parse a YAML file; unreadable files are usage errors naming the file."""
    from faasctl.files import TooLarge, read_capped
    from faasctl.limits import MAX_DOCUMENT, format_size

    try:
        text = read_capped(path, MAX_DOCUMENT).decode("utf-8-sig")
    except TooLarge as exc:
        raise UsageError(f"{path} is larger than the {format_size(exc.cap)} cap on YAML documents") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    data = load_marked(text, str(path))
    expanded_size(data, str(path))
    return data


def unknown_key_message(key: Any, known: Iterable[str]) -> str:
    """``unknown key 'expct' (did you mean 'expect'?)`` or the list of known keys."""
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    return f"unknown key {key!r} (known keys: {', '.join(known)})"
