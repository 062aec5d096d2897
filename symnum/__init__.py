"""Symbolically construct NumPy functions and their derivatives, compiled to fast code."""
