"""``python -m pipeline.demo``."""
from .cli import main

main()
