"""Generate the sweep specs ``sweeps/<task>/<optim>.yaml`` from ``sweep_sources/`` (docs/sweeps.md).

    python scripts/write_sweep_specs.py           # write them; remove specs no source makes
    python scripts/write_sweep_specs.py --check   # only say what differs (exit 1 if anything)
"""

import sys

from suite.commands.write_sweep_specs import main

if __name__ == "__main__":
    sys.exit(main())
