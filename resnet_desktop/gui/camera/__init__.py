"""The Camera tab: webcam preview, snapshots, live classification."""
