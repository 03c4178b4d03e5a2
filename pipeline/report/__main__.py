"""``python -m pipeline.report``."""
from .cli import main

raise SystemExit(main())
