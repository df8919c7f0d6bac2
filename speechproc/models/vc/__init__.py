"""Voice-conversion models."""
