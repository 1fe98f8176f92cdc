"""Segmentations of customers: value (RFM, lifecycle, lifetime value) and behaviour
(lifestyle, intent), their overlay into micro-segments, and the segment catalogue."""
