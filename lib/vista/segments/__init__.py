"""Segmentations of customers: value (RFM, lifecycle, lifetime value) and behaviour
(lifestyle, intent), their overlay into micro-segments, and the segment catalogue."""

from vista.segments.behaviour import run_behavioural
from vista.segments.behaviour_tracking import compare_runs
from vista.segments.catalogue import traits_table

__all__ = ["compare_runs", "run_behavioural", "traits_table"]
