"""Function specs for the tasks that run code: the lambda tasks, INLINE/LAMBDA, and JavaScript conditions.

A spec is the serve deploy body (section 8), so the local driver and a Temporal activity run it alike.
JavaScript that Conductor evaluates as an expression (INLINE, SWITCH/DECISION javascript, DO_WHILE
``loopCondition``) is wrapped into a lambda script that prints the value as JSON, and run with
``output_json: "true"``, so a string result stays a string and ``undefined`` becomes null.
"""

from __future__ import annotations

import json
from typing import Any

from faasctl.output import output_mode

# Evaluated with a direct eval inside the script's function body, so `$` is in scope as in Conductor's
# ScriptEvaluator, and the value is the completion value of the expression's last statement.
_EXPRESSION = "const __value = eval({source});\nreturn JSON.stringify(__value === undefined ? null : __value);\n"
# Conductor's LAMBDA wraps scriptExpression as "function scriptFun(){" + script + "} scriptFun();".
_LAMBDA = ("const __value = (function scriptFun() {{\n{source}\n}}).call(globalThis);\n"
           "return JSON.stringify(__value === undefined ? null : __value);\n")


def lambda_task(runtime: str, ref: str, params: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """``GLOBAL___js`` / ``GLOBAL___py``: the script and ``outputIsJson`` come from the inputParameters."""
    ending = ".py" if runtime == "python" else ".js"
    return {
        "runtime": runtime,
        "code": str(params.get("scriptExpression", "")),
        "name": ref + ending,
        "output_json": output_mode(params.get("outputIsJson")),
        "limits": dict(limits),
    }


def js_expression(ref: str, expression: str, limits: dict[str, Any]) -> dict[str, Any]:
    """A JavaScript expression (INLINE, conditions) as a spec whose result is the expression's value."""
    return _js(ref, _EXPRESSION.format(source=json.dumps(expression)), limits)


def js_lambda(ref: str, script: str, limits: dict[str, Any]) -> dict[str, Any]:
    """The older LAMBDA task: ``scriptExpression`` is a function body with ``return``."""
    return _js(ref, _LAMBDA.format(source=script), limits)


def _js(ref: str, code: str, limits: dict[str, Any]) -> dict[str, Any]:
    return {"runtime": "js", "code": code, "name": ref + ".js", "output_json": "true", "limits": dict(limits)}


def mapped_task(spec: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """A SIMPLE task mapped to a local function; the task's own limits win over the mapping's."""
    merged = dict(spec)
    merged["limits"] = {**(spec.get("limits") or {}), **limits}
    return merged
