"""``python -m pipeline.demo``."""
from .cli import main

raise SystemExit(main())
