"""``sinfonia run`` has the in-process execution API build the routes of its client's API version
only (``pipeline.execution_api_for_this_client``): those routes must be the very ones Cadwyn builds
when it builds every version, and a request must still be served through them."""

from __future__ import annotations

import httpx
import pytest
from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
from airflow.sdk.api.client import API_VERSION
from pydantic import BaseModel

from sinfonia import pipeline


def _api(narrowed: bool) -> InProcessExecutionAPI:
    api = InProcessExecutionAPI()
    if narrowed:
        assert pipeline.execution_api_for_this_client(api.app)
    api.app._cadwyn_initialize()
    return api


@pytest.fixture(scope="module")
def every_version():
    return _api(narrowed=False)


@pytest.fixture(scope="module")
def narrowed():
    return _api(narrowed=True)


def _schema(annotation) -> dict | str:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_json_schema()
    return repr(annotation)


def _routes(api, version):
    """Each route of ``version``: its path, methods, and the JSON schemas of its body and response."""
    return [(r.path, sorted(r.methods), r.name,
             _schema(r.body_field.field_info.annotation) if getattr(r, "body_field", None) else None,
             _schema(r.response_model) if getattr(r, "response_model", None) else None)
            for r in api.app.router.versioned_routers[version].routes]


def test_the_clients_version_gets_the_same_routes_as_when_every_version_is_built(every_version, narrowed):
    versions = every_version.app.versions.version_values
    assert len(versions) > 1 and API_VERSION in versions  # else there is nothing to narrow
    wanted = _routes(every_version, API_VERSION)
    assert len(wanted) > 40  # task instances, XComs, variables, connections, assets …
    assert _routes(narrowed, API_VERSION) == wanted


def test_only_the_clients_version_and_newer_ones_are_built(every_version, narrowed):
    values = narrowed.app.versions.version_values
    newest_to_client = values[:values.index(API_VERSION) + 1]
    for value in values:
        built = len(narrowed.app.router.versioned_routers[value].routes)
        assert (built > 0) == (value in newest_to_client), value
        assert len(every_version.app.router.versioned_routers[value].routes) > 0, value
    # The bundle (one object, Airflow's) is restored: its versions are still every version it was made with.
    assert tuple(v.value for v in narrowed.app.versions.versions) == values


def _get(api, path, version):
    with httpx.Client(transport=api.transport, base_url="http://in-process.invalid./") as client:
        return client.get(path, headers={"airflow-api-version": version})


def test_a_request_of_the_clients_version_is_served_and_an_older_one_is_not(every_version, narrowed):
    older = narrowed.app.versions.version_values[-1]
    assert older != API_VERSION
    assert _get(narrowed, "/health/ping", API_VERSION).status_code == 200
    assert _get(every_version, "/health/ping", older).status_code == 200
    assert _get(narrowed, "/health/ping", older).status_code == 404


def test_an_unknown_client_version_or_a_served_app_keeps_cadwyns_own_build(monkeypatch):
    app = InProcessExecutionAPI().app
    monkeypatch.setattr("airflow.sdk.api.client.API_VERSION", "1999-01-01")
    assert not pipeline.execution_api_for_this_client(app)
    assert "_cadwyn_initialize" not in vars(app)
    monkeypatch.undo()
    assert pipeline.execution_api_for_this_client(app)
    app._cadwyn_initialize()
    assert not pipeline.execution_api_for_this_client(app)  # built already: left as it is


def test_run_dags_narrows_the_api_that_dag_test_uses(offline_run_dags):
    offline_run_dags({}, ())
    assert offline_run_dags.api_calls == [None]
