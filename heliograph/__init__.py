"""heliograph: CKAN's signal system, a plugin system and a small data portal."""

__version__ = "0.1.0"
