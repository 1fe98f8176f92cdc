"""spark-submit entry point for the activation stage; all logic is in the vista package.

    spark-submit jobs/activation.py --conf conf/cluster.yaml
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--stages", "activation", *sys.argv[1:]]))
