"""Demo data: a catalog of ~40 real AI models and a backdated diary that fills an empty log."""
