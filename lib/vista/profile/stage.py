"""The ``profile`` pipeline stage: ``run(ctx)`` (the steps are in :mod:`vista.profile.build`)."""

from vista.profile.build import run

__all__ = ["run"]
