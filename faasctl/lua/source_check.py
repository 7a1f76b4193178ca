"""Refuse Lua source that declares to-be-closed variables (``local x <close> = ...``).

Why: while a memory error unwinds, Lua 5.4 calls each pending ``__close`` handler with it, and an error
raised by that handler replaces the memory error; a ``pcall`` then catches the replacement, which
would make the memory limit catchable. Everything else about ``__close`` is a nicety that no Lua
action of the OpenWhisk-like server this descends from relied on.

The check works on tokens: strings and comments are blanked first, so ``"<close>"`` in a string or a
comment is fine.
"""

from __future__ import annotations

import re

_STRINGS_AND_COMMENTS = re.compile(
    rb"""--\[(?P<eq1>=*)\[.*?\](?P=eq1)\]"""   # long comment
    rb"""|\[(?P<eq2>=*)\[.*?\](?P=eq2)\]"""     # long string
    rb"""|--[^\n]*"""                            # line comment
    rb"""|"(?:\\.|[^"\\\n])*"?"""              # double-quoted string
    rb"""|'(?:\\.|[^'\\\n])*'?""",             # single-quoted string
    re.DOTALL,
)
_NAME = rb"[A-Za-z_][A-Za-z0-9_]*"
_ATTRIB = rb"(?:\s*<\s*" + _NAME + rb"\s*>)?"
_CLOSE_DECLARATION = re.compile(
    rb"\blocal\s+(?:" + _NAME + _ATTRIB + rb"\s*,\s*)*" + _NAME + rb"\s*<\s*close\s*>"
)

MESSAGE = ("to-be-closed variables (<close>) are not supported in faasctl's Lua sandbox: "
           "their handlers could swallow a limit")


def close_declaration(source: bytes) -> bool:
    """True when the source declares a ``<close>`` variable outside strings and comments."""
    if b"close" not in source:
        return False
    code = _STRINGS_AND_COMMENTS.sub(b" ", source)
    return _CLOSE_DECLARATION.search(code) is not None
