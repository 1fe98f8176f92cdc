"""spark-submit entry point for the identity stage; all logic is in the vista package.

    spark-submit jobs/identity.py --conf conf/cluster.yaml [--full]
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "identity", *sys.argv[1:]]))
