import sys

from bwcolor.cli import main

sys.exit(main())
