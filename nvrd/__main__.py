"""`python -m nvrd --config FILE`."""

from nvrd.cli import main

raise SystemExit(main())
