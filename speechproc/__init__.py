"""speechproc: speech processing recipes with large models."""
__version__ = "0.1.0"
