"""``python -m handprop.reproduce DIR``: rewrite the outputs of the results folder ``DIR``."""

from handprop.reproduce.outputs import main

raise SystemExit(main())
