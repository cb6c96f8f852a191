"""Maquette: concept image to 3D asset to rendered shots."""

__version__ = "0.1.0"
