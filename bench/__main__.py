"""`python -m bench` runs every benchmark."""
from bench import cancel_endpoint

if __name__ == "__main__":
    cancel_endpoint.main()
