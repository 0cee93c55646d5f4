"""The Qt desktop app: windows, panels and workers that call the core engine."""
