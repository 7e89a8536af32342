"""Statistics: per user, per instance (with daily rows) and system-wide (admin)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify, request

from wamux.domain.errors import ValidationFailed
from wamux.domain.periods import day_of, period_start_day
from wamux.http.auth import current_user, owned_instance, require_admin
from wamux.http.services import Services
from wamux.projections.stats import daily, empty_counters, summed

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
    actors = sorted(s.supervisor.visible(current_user().id), key=lambda a: a.instance.created_ms)
    counters = await s.queries.usage_per_instance([a.id for a in actors], since)
    instances = [{"instanceId": a.id, "name": a.instance.name, **counters[a.id]} for a in actors]
    total = empty_counters()
    for actor in actors:
        for key in total:
            total[key] += counters[actor.id][key]
    return jsonify({"period": period, "total": {**total, "instanceCount": len(actors)}, "instances": instances})


@bp.get("/api/stats/instances/<instance_id>")
async def instance_stats(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    period = _period(("today", "week", "month", "year", "all"), "today")
    rows = await s.queries.usage(actor.id, period_start_day(period, s.clock.now_ms()))
    days = [
        {k: d[k] for k in ("date", "messagesSent", "messagesReceived", "mediaSent", "mediaReceived", "apiCalls")}
        for d in daily(rows)
    ]
    return jsonify({"instanceId": actor.id, "period": period, "usage": {**summed(rows), "dailyStats": days}})


@bp.get("/api/stats/system")
async def system_stats() -> Response:
    require_admin()
    s = services()
    queries = s.queries
    active_users = await queries.active_users(day_of(s.clock.now_ms() - 30 * 86_400_000))
    usage = await queries.total_usage()
    actors = s.supervisor.visible(None)
    return jsonify(
        {
            "instances": {"total": len(actors), "active": sum(1 for a in actors if a.status == "connected")},
            "users": {"total": s.users.count(), "active": active_users},
            "usage": usage,
        }
    )
