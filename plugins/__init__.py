"""artkit's built-in plugins. Each module is listed in the ``artkit`` entry-point group of
pyproject.toml and loads exactly like a third-party plugin would."""
