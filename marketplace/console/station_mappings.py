"""A station's map of outside platforms' product ids to its own SKUs."""
