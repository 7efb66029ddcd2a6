"""initviz: watch what weight initialisation does to a deep network, layer by layer."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``initviz.inspect(model, batch)``: loaded on first use (it imports torch)."""
    if name == "inspect":
        from initviz.engine.inspect import inspect

        return inspect
    raise AttributeError(f"module 'initviz' has no attribute {name!r}")
