"""mllens: an agent that audits live AWS ML workloads against the Well-Architected ML Lens."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mllens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
