"""Loopback fakes of the services the lab talks to (test-only code)."""
