"""artkit: recognise artwork in images (classification, attribute tagging, painting detection)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("artkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+src"
