"""The research layer: capability changes, curve diagnosis, the failure museum, the research dataset, the advisor."""
