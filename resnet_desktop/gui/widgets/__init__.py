"""Widgets and helpers every tab shares (status-bar download bar, colours, formatting)."""
