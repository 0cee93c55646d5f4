"""The Batch tab: tag a folder, results table, exports, XMP sidecars."""
