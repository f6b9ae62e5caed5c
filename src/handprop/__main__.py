"""``python -m handprop``: Ctrl-C while the modules load is a message, not a traceback."""

import sys

from handprop.interrupt import redeliver_interrupts

try:
    redeliver_interrupts()
    from handprop.cli import main
except KeyboardInterrupt:
    print("handprop: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
