"""What every engine returns from a write (the Lake turns it into a WriteResult)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """Result of one engine write.

    Attributes:
        version: Delta version the write created (the current version when skipped).
        rows: Rows in the data files the write added, from file metadata.
        skipped: The write was an idempotent no-op (its txn was already committed).
    """

    version: int
    rows: int | None
    skipped: bool = False


def vista_operation(user_metadata: str | None) -> str | None:
    """vista's operation name from a commit's ``userMetadata`` tag (``vista:<op>:<id>``),
    which both engines write; ``None`` for commits vista did not make."""
    if user_metadata and user_metadata.startswith("vista:"):
        return user_metadata.split(":")[1]
    return None
