"""Property test over the whole OpenAPI schema: whatever the input, no answer is a server error.

Schemathesis generates requests from our own schema (valid and invalid ones); Hypothesis runs them.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.service import RunningService

EXAMPLES_PER_OPERATION = 30


def test_no_input_yields_a_server_error(service: RunningService) -> None:
    schema = schemathesis.openapi.from_url(f"{service.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the seed API and /api/v1 are all in the schema
    failures: list[str] = []
    seen_4xx = 0
    for operation in operations:

        @given(case=st.one_of(operation.as_strategy(mode) for mode in schemathesis.GenerationMode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            nonlocal seen_4xx
            response = case.call(base_url=service.base_url, timeout=30)
            seen_4xx += 400 <= response.status_code < 500
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{response.text[:200]}")

        check()
    assert not failures, "\n".join(failures[:10])
    assert seen_4xx > 100  # invalid input was generated and refused, so the property was really exercised
    assert service.client.get("/api/health").json()["status"] == "healthy"



def test_integers_beyond_64_bits_are_refused_not_crashed_on(service: RunningService) -> None:
    """Every integer path or query parameter, given numbers no database column holds: a 4xx, never a 500."""
    schema = service.client.get("/openapi.json").json()
    tried = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            for param in params:
                types = {param["schema"].get("type")} | {s.get("type") for s in param["schema"].get("anyOf", [])}
                if "integer" not in types or param["in"] not in ("path", "query"):
                    continue
                for value in (2**64, -(2**64), 10**20):
                    url = path
                    for other in params:
                        if other["in"] == "path":
                            url = url.replace(f"{{{other['name']}}}", str(value) if other is param else "x")
                    query = {param["name"]: str(value)} if param["in"] == "query" else {}
                    r = service.client.request(method, url, params=query, json={"segment": {"enabled": True}})
                    assert r.status_code < 500, (method, url, query, r.text)
                    assert r.json()["code"], (method, url)
                    tried += 1
    assert tried >= 10  # segment IDs, pages, limits, offsets
