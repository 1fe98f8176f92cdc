"""spark-submit entry point for the whole pipeline (every stage in config order).

    spark-submit jobs/pipeline.py --conf conf/cluster.yaml [--stages ingest identity] [--full]
"""

import sys

from vista.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
