"""GDPR erasure requests, one daily partition per date=YYYY-MM-DD/hour=00/erasure-requests.json
(or .json.gz, or both), and the proof that nothing of an erased customer remains."""

from dagster import MetadataValue

from etl.inspection import quality
from etl.privacy.erasure_proof import find_residue
from pipelines.assets.dataset_checks import (
    ACCOUNTED_FOR,
    QUARANTINE_RATE,
    SCHEMA_DRIFT,
    Check,
    CheckScope,
    Evaluation,
)
from pipelines.assets.loading import dataset_asset
from pipelines.partitions import DAILY, DAILY_BACKFILL

DATASET = "erasure-requests"
# Enough places to act on; the check's count is the full number.
_RESIDUE_SHOWN = 20


def _no_residue(scope: CheckScope) -> Evaluation:
    findings = find_residue(scope.conn, scope.settings)
    residue = findings.residue
    return Evaluation(
        passed=not residue,
        metadata={
            "residue": len(residue),
            "threshold": 0,
            # the same value held by other customers too: reported, never a failure
            "shared_values": len(findings.shared),
            "erased_customers": quality.erased_customers(scope.conn),
            # pseudonyms and places only: a residue's identifiers are never repeated here
            "places": MetadataValue.json([str(found) for found in residue[:_RESIDUE_SHOWN]]),
        },
    )


NO_RESIDUE = Check(
    "no_residue_after_erasure",
    "No identifier of an erased customer (e-mail, phone, name with date of birth, address, as "
    "the landing zone gives them) in any table, nor in any file under WAREHOUSE_HOME or "
    "DAGSTER_HOME: etl.privacy.erasure_proof's verifier. A value another customer holds too "
    "(a shared street) is counted apart, in shared_values, and does not fail it.",
    _no_residue,
)

erasure_requests = dataset_asset(
    "erasure_requests",
    DATASET,
    DAILY,
    DAILY_BACKFILL,
    checks=[QUARANTINE_RATE, ACCOUNTED_FOR, SCHEMA_DRIFT, NO_RESIDUE],
    description="The day's erasure requests, carried out: the customer's personal data removed "
    "everywhere, a tombstone in privacy.erased_customers that keeps later and replayed loads "
    "from bringing them back, and the outcome in privacy.erasure_log.",
)
