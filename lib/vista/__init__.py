"""vista: an open-source Customer 360 on Apache Spark."""

__version__ = "0.1.0"
