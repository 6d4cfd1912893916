"""ftwizard: plan, launch and watch LLM fine-tuning runs from a terminal."""

__version__ = "0.1.0"
