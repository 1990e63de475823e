"""User-facing errors: each carries a one-line message a non-programmer can act on."""

from __future__ import annotations


class KPIExplorerError(ValueError):
    """Base class: the pages show ``str(err)``; the command line prints it and exits 1."""


class IngestError(KPIExplorerError):
    """A file could not be read into a table (empty, binary, corrupt, too large, ...)."""


class KPIDefinitionError(KPIExplorerError):
    """A KPI definition or KPI file is invalid; the message names the KPI and the key."""


class DataReadError(KPIExplorerError):
    """The data could not be read while computing (a row or cell a strict read of the file
    refuses): the KPI definitions are fine."""


class ComputeError(KPIExplorerError):
    """Computing ran out of memory or disk, or was interrupted: worth trying again, so a
    cache must not keep it."""


class ExpressionError(KPIExplorerError):
    """A measure or filter expression was refused; the message names the offending part."""


class StoreError(KPIExplorerError):
    """Something saved could not be found or written (unknown id, missing dataset, ...)."""


class DiskFullError(StoreError):
    """The disk holding the store or the uploads is full; nothing of the failed step was kept."""

    def __init__(self) -> None:
        super().__init__(
            "The disk where this app keeps its data is full, so this was not saved. Free some "
            "space (or ask whoever runs the app to), then try again."
        )


class StoreDamagedError(StoreError):
    """The store file exists but is not a readable store. ``path`` is the file and
    ``fingerprint`` its (inode, size, mtime) when it was found damaged, so it is only ever set
    aside while it is still that same file."""

    def __init__(self, path: str, fingerprint: tuple[int, int, int]) -> None:
        super().__init__(f"The saved data in {path} is damaged and cannot be opened.")
        self.path = path
        self.fingerprint = fingerprint
