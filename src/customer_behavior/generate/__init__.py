"""Synthetic e-commerce data generated inside Spark (see `spec` for the planted truth)."""

from customer_behavior.generate.engine import SyntheticData, generate

__all__ = ["SyntheticData", "generate"]
