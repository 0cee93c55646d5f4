"""The Classify tab: the image pane, its loader, the top-5 chart."""
