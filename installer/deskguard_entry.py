"""The frozen app's entry point (PyInstaller runs this file as ``__main__``): the ``deskguard`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a child process of the frozen app starts here
    from deskguard.cli import main

    sys.exit(main())
