"""The keyword vocabulary: its owner (the store) and its editor."""
