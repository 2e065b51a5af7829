"""`GET/PATCH /admin/tenant`: the tenant's name and time zone (members read, owners and admins change)."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.helpers import TEST_PASSWORD


async def test_owner_renames_the_tenant_and_sets_its_time_zone(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    r = await client.get("/admin/tenant", headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": str(t.id), "slug": t.slug, "name": f"Tenant {t.slug}", "time_zone": "UTC",
                        "ai_resumes_after_minutes": None}
    r = await client.patch("/admin/tenant", json={"name": "  Café Aurora ", "time_zone": "America/Mexico_City"},
                           headers=t.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["time_zone"], r.json()["slug"]) == ("Café Aurora", "America/Mexico_City", t.slug)
    assert (await client.get("/admin/tenant", headers=t.headers)).json()["time_zone"] == "America/Mexico_City"
    # The session's tenant list shows the new name; the other tenant is untouched.
    login = await client.post("/api/auth/login", json={"email": t.owner_email, "password": TEST_PASSWORD})
    assert login.json()["tenant"]["name"] == "Café Aurora"
    assert (await client.get("/admin/tenant", headers=other.headers)).json()["name"] == f"Tenant {other.slug}"


async def test_bad_tenant_settings_are_a_clear_422_with_a_code_per_field(client: httpx2.AsyncClient,
                                                                         make_tenant: Any) -> None:
    t = await make_tenant()
    for body, field, kind in [({"time_zone": "Mars/Olympus"}, "time_zone", "invalid_time_zone"),
                              ({"time_zone": "/etc/passwd"}, "time_zone", "invalid_time_zone"),
                              ({"name": "   "}, "name", "blank"),
                              ({"name": "x" * 201}, "name", "string_too_long")]:
        r = await client.patch("/admin/tenant", json=body, headers=t.headers)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["error"]["details"][0]
        assert (detail["field"], detail["type"]) == (field, kind), r.text
    assert (await client.get("/admin/tenant", headers=t.headers)).json()["time_zone"] == "UTC"


async def test_an_agent_reads_the_tenant_but_cannot_change_it(client: httpx2.AsyncClient, make_tenant: Any) -> None:
    t = await make_tenant()
    r = await client.post("/admin/members", headers=t.headers,
                          json={"email": f"agent@{t.slug}.test", "password": TEST_PASSWORD, "role": "agent"})
    assert r.status_code == 201, r.text
    session = (await client.post("/api/auth/login", json={"email": f"agent@{t.slug}.test",
                                                          "password": TEST_PASSWORD})).json()
    assert (await client.get("/admin/tenant")).json()["slug"] == t.slug
    r = await client.patch("/admin/tenant", json={"name": "Mío"}, headers={"X-CSRF-Token": session["csrf_token"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"
    assert (await client.get("/admin/tenant")).json()["name"] == f"Tenant {t.slug}"
