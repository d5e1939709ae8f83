"""The code location as deployed: a real `dagster api grpc` server, and a real webserver that
loads it through a workspace.yaml like ours and answers GraphQL (the `webserver` fixture)."""

import httpx

QUERY = """
{
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        location { name }
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
    ... on PythonError { message }
  }
}
"""


def _repositories(url: str) -> dict:
    answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=10).json()
    return answer["data"]["repositoriesOrError"]


def test_the_webserver_lists_every_job_of_the_grpc_code_location(webserver):
    [repository] = _repositories(webserver)["nodes"]

    assert repository["location"]["name"] == "warehouse"
    jobs = {job["name"] for job in repository["jobs"]}
    assert {"customers_job", "products_job", "transactions_job", "erasure_requests_job"} <= jobs
    schedules = {
        s["name"]: (s["cronSchedule"], s["executionTimezone"]) for s in repository["schedules"]
    }
    assert schedules["erasure_requests_daily"] == ("0 1 * * *", "Europe/Zagreb")
    sensors = {sensor["name"] for sensor in repository["sensors"]}
    assert sensors == {"landing_zone_sensor", "freshness_checks_sensor"}
