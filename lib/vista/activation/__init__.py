"""Activation and privacy: consent-aware exports to every destination in its own ids,
GDPR erasure, the suppression list and the audit trail."""

from vista.activation.config import ActivationConfig, DestinationConfig
from vista.activation.errors import ActivationError, ErasureError, ExportFailed

__all__ = ["ActivationConfig", "ActivationError", "DestinationConfig", "ErasureError",
           "ExportFailed"]
