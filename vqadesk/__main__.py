"""``python -m vqadesk`` is the same as the ``vqadesk`` command."""

from vqadesk.cli.main import main

raise SystemExit(main())
