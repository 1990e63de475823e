"""User-facing errors: each carries a one-line message a non-programmer can act on."""

from __future__ import annotations


class KPIExplorerError(ValueError):
    """Base class: the pages show ``str(err)``; the command line prints it and exits 1."""


class IngestError(KPIExplorerError):
    """A file could not be read into a table (empty, binary, corrupt, too large, ...)."""


class KPIDefinitionError(KPIExplorerError):
    """A KPI definition or KPI file is invalid; the message names the KPI and the key."""


class ExpressionError(KPIExplorerError):
    """A measure or filter expression was refused; the message names the offending part."""


class StoreError(KPIExplorerError):
    """Something saved could not be found or written (unknown id, missing dataset, ...)."""
