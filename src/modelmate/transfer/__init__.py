"""Import and export of the tracker log (CSV and JSON): API, service and file formats."""
