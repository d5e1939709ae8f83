"""`python -m api`: the same as `warehouse-api`."""

from api.server import main

main()
