"""``python -m evalkit``: the same as the ``evalkit`` command."""
from .cli import main

raise SystemExit(main())
