"""OCI distribution of single WebAssembly functions: references, a small registry client, a
content-addressed blob cache, layer extraction, pull and push.

Nothing here is imported on the CLI path unless an ``oci://`` target or an OCI verb is used.
"""
