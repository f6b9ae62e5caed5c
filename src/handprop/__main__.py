import sys

from handprop.cli import main

sys.exit(main())
