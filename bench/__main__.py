"""`python -m bench` runs every benchmark."""
import sys

from bench import batch_cancel, cancel_endpoint, dispatch, export_xlsx, list_and_reports

if __name__ == "__main__":
    sys.exit(cancel_endpoint.main() or dispatch.main() or batch_cancel.main()
             or list_and_reports.main() or export_xlsx.main())
