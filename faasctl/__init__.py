"""faasctl: run serverless functions locally, sandboxed, offline and fast."""

__version__ = "0.1.0"
