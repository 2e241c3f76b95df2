"""Stand-in for Spectral's product code (see the repository README): an API and a workers loop."""

from importlib.metadata import version

__version__ = version("spectral-app")
