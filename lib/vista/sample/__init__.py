"""The sample lake: a generated, messy multi-source customer lake with known truth.

Public API::

    from vista.sample import generate_sample_lake, SampleParams, SampleSummary
"""

from vista.sample.generate import FOLDERS, SampleSummary, generate_sample_lake
from vista.sample.params import SampleParams

__all__ = ["FOLDERS", "SampleParams", "SampleSummary", "generate_sample_lake"]
