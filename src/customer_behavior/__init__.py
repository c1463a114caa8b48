"""customer-behavior: e-commerce customer analytics on Spark."""

__version__ = "0.1.0"
TOOL_NAME = "customer-behavior"
