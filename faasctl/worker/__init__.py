"""``faasctl worker``: the engine run by a distributed engine (Temporal, Conductor) instead of a shell.

- ``functions``: the one bridge to the core (function spec, engine, a run, which errors are retryable).
- ``payloads``: how values cross Temporal (key order kept, the payload limit, envelope back to a result).
- ``activity`` / ``workflows``: the Temporal activity ``faasctl.run`` and the workflows that call it.
- ``temporal``: starting a Temporal worker; ``client``: ``faasctl run|flow run --temporal``.
- ``conductor``: the Conductor ``GLOBAL___js`` / ``GLOBAL___py`` worker.
- ``stopping``: how a worker process stops (a second signal exits at once).

Nothing here is imported by ``faasctl run`` unless ``--temporal`` is given: ``temporalio`` costs ~150 ms.
"""
