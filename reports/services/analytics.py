"""Being written: see the module docstring once it lands."""

__all__: list[str] = []
