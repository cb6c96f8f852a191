"""Maquette: concept image to 3D asset to rendered shots."""


def __getattr__(name: str):
    """`engine.__version__`: from the package metadata (pyproject.toml is its one source)."""
    if name == "__version__":
        from engine.resources import version

        return version()
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
