"""Typed configuration: YAML files in conf/, environment overrides, every problem at once."""
