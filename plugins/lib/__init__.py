"""Helper libraries of the built-in plugins. The plugin modules themselves (the ones named
in ``[project.entry-points.artkit]``) sit one level up; nothing here registers a hook."""
