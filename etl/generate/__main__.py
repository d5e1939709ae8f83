"""`python -m etl.generate`: the generator's command line."""

from etl.generate.cli import main

if __name__ == "__main__":
    main()
