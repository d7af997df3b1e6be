"""The version of lpn, in a module of its own so that any module can read it without importing the
package (whose __init__ loads nearly the whole library). pyproject.toml states the same (a test checks)."""

__version__ = "0.1.0"
