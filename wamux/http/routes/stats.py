"""Statistics: per user, per instance (with daily rows) and system-wide (admin)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify, request

from wamux.domain.errors import ValidationFailed
from wamux.http.auth import current_user, owned_instance, require_admin
from wamux.http.services import Services
from wamux.projections.periods import day_of, period_start_day
from wamux.projections.ports import Query
from wamux.projections.stats import daily, empty_counters, summed, usage_rows
from wamux.projections.users import USERS

bp = Blueprint("stats", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def _period(allowed: tuple[str, ...], default: str) -> str:
    period = request.args.get("period", default)
    if period not in allowed:
        raise ValidationFailed(f"period must be one of {', '.join(allowed)}", details={"period": "invalid"})
    return period


@bp.get("/api/stats/user")
async def user_stats() -> Response:
    s = services()
    period = _period(("today", "week", "month", "year", "all"), "month")
    since = period_start_day(period, s.clock.now_ms())
    await s.read_models.synced("stats")
    user = current_user()
    actors = s.supervisor.visible(user.id)
    instances = []
    for actor in sorted(actors, key=lambda a: a.instance.created_ms):
        counters = summed(usage_rows(s.read_models.rm, since_day=since, instanceId=actor.id))
        instances.append({"instanceId": actor.id, "name": actor.instance.name, **counters})
    total = empty_counters()
    for row in instances:
        for key in total:
            total[key] += int(row[key])  # type: ignore[call-overload]
    return jsonify({"period": period, "total": {**total, "instanceCount": len(actors)}, "instances": instances})


@bp.get("/api/stats/instances/<instance_id>")
async def instance_stats(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    period = _period(("today", "week", "month", "year", "all"), "today")
    await s.read_models.synced("stats")
    rows = usage_rows(s.read_models.rm, since_day=period_start_day(period, s.clock.now_ms()), instanceId=actor.id)
    days = [
        {k: d[k] for k in ("date", "messagesSent", "messagesReceived", "mediaSent", "mediaReceived", "apiCalls")}
        for d in daily(rows)
    ]
    return jsonify({"instanceId": actor.id, "period": period, "usage": {**summed(rows), "dailyStats": days}})


@bp.get("/api/stats/system")
async def system_stats() -> Response:
    require_admin()
    s = services()
    await s.read_models.synced("stats", "users")
    actors = s.supervisor.visible(None)
    cutoff = day_of(s.clock.now_ms() - 30 * 86_400_000)
    active_users = s.read_models.rm.count(USERS, Query(ranges={"lastActiveDay": (cutoff, None)}))
    usage = summed(usage_rows(s.read_models.rm, since_day=None))
    return jsonify(
        {
            "instances": {"total": len(actors), "active": sum(1 for a in actors if a.status == "connected")},
            "users": {"total": s.users.count(), "active": active_users},
            "usage": usage,
        }
    )
