"""``faasctl serve``: the engine over HTTP, with three faces (REST, openEuler WasmEngine, lua-experiments)
over one SQLite store, a bounded worker pool and a bounded queue.

Nothing here is imported by ``faasctl run``; ``faasctl serve`` imports Starlette and uvicorn on start.
"""
