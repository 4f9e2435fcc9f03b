"""``python -m batchtool``: the same as the ``batchtool`` command."""

from batchtool._entry import main

main()
