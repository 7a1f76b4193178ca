"""Conductor workflows, offline (spec section 9): a pure interpreter and the drivers that run its requests.

The interpreter (``faasctl.flow.interpreter``) is a decider, not a runner: it does no I/O, reads no clock,
starts no thread and draws no random number. Ids come from the workflow id the caller gives, times from the
``now_ms`` the caller passes in. Everything in and out is plain JSON-able data (dicts, lists, str, numbers),
so a Temporal workflow (section 11) can drive the same code deterministically: it only has to turn each
request into a ``faasctl.run`` activity and feed the envelope back. Nothing in ``interpreter``,
``expressions``, ``validate`` or ``scripts`` imports the engine.

API (stable; the worker helper codes against it)::

    from faasctl.flow.interpreter import Flow
    from faasctl.flow.validate import FlowDefinitionError      # .path, .reason; str() is "PATH: REASON"

    flow = Flow(
        definition,                 # dict: a Conductor workflow definition (POST /metadata/workflow shape)
        input,                      # the workflow input (any JSON value; Conductor uses an object)
        workflow_id="wf-1",         # every task id derives from it: "wf-1-t1", "wf-1-t2", ...
        definitions={},             # sub-workflow name -> definition (SUB_WORKFLOW looks here)
        functions={},               # SIMPLE task name -> function spec (see below), for mapped tasks
        max_iterations=1000,        # DO_WHILE iteration cap (the error names it)
    )                               # validates statically; raises FlowDefinitionError (exit 2) first

    step = flow.start(now_ms)                       # -> Step
    step = flow.complete(request_id, envelope, now_ms, started_ms=None)   # -> Step, after a request ended
    flow.done                                       # True once the workflow is COMPLETED/FAILED/TERMINATED
    flow.status                                     # RUNNING, COMPLETED, FAILED or TERMINATED
    flow.execution()                                # the execution document (GET /workflow/{id} shape)
    flow.exit_code                                  # 0, the failed task's code (1, 3, 4, ...), 1 for TERMINATE
    flow.root.definition, flow.definitions, flow.functions   # what it was built from (to send elsewhere)

    Step = {"run": [Request, ...],     # may all run at once (fork branches); start them in list order
            "cancel": [request_id, ...],  # in flight but no longer wanted (a branch failed): stop them,
                                          # and do not call complete() for them (it would be ignored)
            "done": bool}

    Request = {
        "id": "wf-1-t3",            # unique in this execution; pass it back to complete()
        "ref": "create_json_ref",   # task reference for log prefixes ("sub_ref/inner_ref" in sub-workflows)
        "kind": "task" | "eval",    # "eval": a JavaScript condition/expression the interpreter needs
                                    #  (SWITCH/DECISION javascript, DO_WHILE loopCondition), not a task
        "function": {               # a function spec: the serve deploy body (section 8)
            "runtime": "js" | "python" | "lua" | "wasm",
            "code": "...",          # or "code_base64": "...", or "image": "oci://..."
            "name": "create_json_ref.py",   # a file name for messages and stack traces (optional)
            "output_json": "true" | "false" | "auto",
            "limits": {"timeout": "300s"},  # from taskDefinition.timeoutSeconds; may be empty
        },
        "input": <JSON value>,      # the function's input ($ / inputData / event)
        "attempt": 0,               # retry number (taskDefinition.retryCount)
        "delay_seconds": 0,         # wait this long before starting (taskDefinition.retryDelaySeconds)
    }

    envelope = the run envelope of section 4 (``Result.to_dict()``): {"ok", "result", "logs", "error":
        {"type", "message", "detail"} | None, "stats", ...}. A driver that could not run the function at all
        (an ArtifactError, a UsageError) reports {"ok": False, "error": {"type": "ArtifactError", ...}}.
        Error types UsageError, InputError, ArtifactError and NotFound are not retried.

Drivers: ``faasctl.flow.executor`` runs requests on the local engine (a thread pool, ``-j N``; a lone request
on the calling thread; ``function_target`` is the one place a function spec becomes ``Engine.run`` arguments);
``faasctl.flow.loader`` reads definition files (JSON/YAML, lists with ``--workflow``, sub-workflows beside
the file) and task mappings; ``loader.prepare_flow`` gives a validated ``Flow`` whose errors name the file,
the line and the JSON path. JSON_JQ_TRANSFORM is evaluated inside the interpreter through the ``jq`` binding
(pure, deterministic; a Temporal workflow sandbox must pass the ``jq`` module through).
"""
