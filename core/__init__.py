"""ftwizard.core: every decision and number; no UI imports (textual, questionary) ever."""
