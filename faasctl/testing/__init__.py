"""``faasctl test``: declarative cases in ``*.faas.yaml`` files, run on the in-process engine.

``cases`` loads and validates case files (errors name file and line), ``checks`` compares a run with
what a case expects, ``runner`` runs cases on one shared engine, ``junit`` and ``report`` render them.
"""
