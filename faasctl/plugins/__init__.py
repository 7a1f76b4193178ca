"""Host plugins reachable from guests: ``call(plugin, action, payload)`` in Lua, a host import in wasm."""
