#!/bin/sh
# Runs once, when docker compose creates the warehouse database's volume
# (/docker-entrypoint-initdb.d): gives the analyst role, which the API logs in as, its password.
# Migration 002 finds the role there and grants it what an analyst may read.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$WAREHOUSE_ANALYST_PASSWORD" <<'SQL'
CREATE ROLE warehouse_analyst LOGIN PASSWORD :'password';
SQL
