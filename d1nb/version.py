"""The installed d1nb's version (a source tree run without installing says 0.0.0+source)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("d1nb")
except PackageNotFoundError:
    __version__ = "0.0.0+source"
