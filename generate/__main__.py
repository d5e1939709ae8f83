"""`python -m generate`: the generator's command line."""

from generate.cli import main

if __name__ == "__main__":
    main()
