"""`python -m bench` runs every benchmark."""
import sys

from bench import batch_cancel, cancel_endpoint, dispatch

if __name__ == "__main__":
    sys.exit(cancel_endpoint.main() or dispatch.main() or batch_cancel.main())
