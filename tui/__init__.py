"""ftwizard.tui: renders what ftwizard.core computes (Textual app and plain questionary mode)."""
