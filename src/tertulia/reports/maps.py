"""HTML maps drawn with Leaflet, which Tertulia serves itself (`/static/leaflet/`, the npm package's
files in `static/leaflet/`): no third-party script host. The base map's tiles come from
TERTULIA_MAP_TILES_URL when the operator sets one; without it the points are drawn on a plain
background (nothing is fetched from outside).

The page holds its data as JSON in a non-executed script element and draws it with
`static/leaflet/map.js`; popups are built with text nodes, so a customer's name can never become
markup. Served with a policy that allows only this origin's scripts (reports/endpoints.py).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tertulia.reports.repetitividad import RepeatReport

STATIC_PREFIX = "/static/leaflet"
# Circle radius in pixels: grows with the count of claims, capped so one service cannot hide a city.
MIN_RADIUS, RADIUS_STEP, MAX_RADIUS = 6, 2, 24


@dataclass(frozen=True)
class MapPoint:
    lat: float
    lon: float
    label: str
    count: int | None = None
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Tiles:
    url: str
    attribution: str = ""


def radius(count: int | None) -> int:
    return MIN_RADIUS if count is None else min(MAX_RADIUS, MIN_RADIUS + RADIUS_STEP * max(count - 1, 0))


def write_map(title: str, points: Sequence[MapPoint], tiles: Tiles | None) -> bytes:
    data: dict[str, Any] = {
        "title": title,
        "tiles": {"url": tiles.url, "attribution": tiles.attribution} if tiles and tiles.url else None,
        "points": [{"lat": p.lat, "lon": p.lon, "label": p.label, "count": p.count, "radius": radius(p.count),
                    "details": [list(d) for d in p.details]} for p in points],
    }
    # `<` escaped: the JSON can never close its script element, whatever a label says.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    page = f"""<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{STATIC_PREFIX}/leaflet.css">
<link rel="stylesheet" href="{STATIC_PREFIX}/map.css">
</head>
<body>
<header id="map-title">{html.escape(title)}</header>
<div id="map" role="region" aria-label="{html.escape(title)}"></div>
<script type="application/json" id="map-data">{payload}</script>
<script src="{STATIC_PREFIX}/leaflet.js"></script>
<script src="{STATIC_PREFIX}/map.js"></script>
</body>
</html>
"""
    return page.encode("utf-8")


def report_points(report: RepeatReport) -> list[MapPoint]:
    """One point per repetitive service with coordinates, at the mean position of its claims."""
    return [MapPoint(lat=s.lat, lon=s.lon, label=s.service, count=s.count,
                     details=(("Servicio", s.service), ("Reclamos", str(s.count)), ("Cliente", s.client),
                              ("Región", s.region), ("Ubicación", s.label)))
            for s in report.located if s.lat is not None and s.lon is not None]
