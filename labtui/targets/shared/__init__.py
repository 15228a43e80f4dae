"""What every target uses on the attendee's machine: git working copies and the Databricks CLI
profile file."""
