"""``python -m handprop``: Ctrl-C while the modules load is a message, not a traceback."""

import sys

from handprop import interrupt

try:
    interrupt.install()
    from handprop.cli import main
except BaseException as err:
    if not interrupt.interrupted(err):
        raise
    print("handprop: interrupted", file=sys.stderr)
    interrupt.leave(130)

interrupt.leave(main())
