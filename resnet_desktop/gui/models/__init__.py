"""Model choice and facts: the picker, the info panel, the import and validate dialogs."""
