"""XINA-style lambda tasks chained through a local FIFO queue (``faasctl flow chain``, spec section 10).

``model`` reads the inputs (the run action, the tasks map, the action results), ``state`` is the
queue and the task tree with the failure rule (pure: no clock, no I/O), ``runner`` executes it on
an engine with the chain's built-in plugins (``lambda``, ``s3``, the ``xina-queue`` function),
``objects`` is the local object directory, ``report`` renders the outcome.
"""
