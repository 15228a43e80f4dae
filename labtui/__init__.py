"""labtui: the Databricks ML DevOps hands-on lab as step plugins with run, verify and rollback.

This package imports nothing heavy at start: Textual, the cloud SDKs, Docker and MLflow are
imported inside the code that needs them, so `labtui --help` and `labtui list` stay fast.
"""

__version__ = "0.1.0"
