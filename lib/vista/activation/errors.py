"""Errors of the activation package (all are :class:`vista.errors.VistaError`)."""

from __future__ import annotations

from vista.errors import VistaError


class ActivationError(VistaError):
    """A destination cannot be exported as configured (missing table or column, ...)."""


class ExportFailed(ActivationError):
    """One or more destinations failed; their export state was not advanced."""


class ErasureError(VistaError):
    """An erasure or unsuppress request cannot be carried out as asked."""
