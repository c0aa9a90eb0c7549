//! The JSON and binary endpoints of `docs/web-api.md`. Each handler takes
//! the model lock once, builds its answer from the model's query methods,
//! and lets go; answers that cost a pass over every goroutine (summary,
//! findings) are cached per model version.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use weft_analysis::trace::{analyze, TraceConfig};
use weft_timeline::{FrameInfo, GState, GroupId, GroupSummary, Model, TimeRange, WakeFlow};

use crate::rows::{self, RowFilter};
use crate::state::{LoadState, Mode, Shared};

pub type App = Arc<Shared>;
type Params = Query<HashMap<String, String>>;

/// An error answer: `{"error": text}` with a status.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, msg.into())
}

/// The model, or 503 while it is not loaded.
fn ready(app: &Shared) -> Result<MutexGuard<'_, Model>, ApiError> {
    let st = app.status();
    match st.state {
        LoadState::Ready => {}
        LoadState::Loading => {
            return Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "still loading {}; wait for /api/status state \"ready\"",
                    st.source
                ),
            ))
        }
        LoadState::Error => {
            return Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("loading failed: {}", st.error.clone().unwrap_or_default()),
            ))
        }
    }
    drop(st);
    Ok(app.model())
}

fn num<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match q.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("parameter {name}={s:?} is not a valid number"))),
    }
}

fn text(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    matches!(q.get(name).map(|s| s.as_str()), Some("1" | "true" | "yes"))
}

fn id_list<T: std::str::FromStr + Ord>(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<BTreeSet<T>>, ApiError> {
    let Some(s) = text(q, name) else {
        return Ok(None);
    };
    s.split(',')
        .map(|x| x.trim())
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map_err(|_| bad(format!("parameter {name}: {x:?} is not an id")))
        })
        .collect::<Result<BTreeSet<T>, _>>()
        .map(Some)
}

fn parse_state(s: &str) -> Option<GState> {
    Some(match s {
        "runnable" => GState::Runnable,
        "running" => GState::Running,
        "waiting" | "blocked" => GState::Waiting,
        "syscall" => GState::Syscall,
        "dead" => GState::Dead,
        _ => return None,
    })
}

fn states(q: &HashMap<String, String>) -> Result<Option<Vec<GState>>, ApiError> {
    let Some(s) = text(q, "state") else {
        return Ok(None);
    };
    s.split(',')
        .map(|x| x.trim())
        .filter(|x| !x.is_empty())
        .map(|x| {
            parse_state(x).ok_or_else(|| {
                bad(format!(
                    "parameter state: {x:?} is not one of runnable, running, waiting, syscall, dead"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn row_filter(q: &HashMap<String, String>) -> Result<RowFilter, ApiError> {
    let collapsed = text(q, "collapsed").unwrap_or_default();
    let collapse_all = collapsed == "all";
    Ok(RowFilter {
        groups: id_list(q, "group")?,
        func: text(q, "q"),
        states: states(q)?,
        collapse_all,
        collapsed: if collapse_all {
            BTreeSet::new()
        } else {
            id_list(q, "collapsed")?.unwrap_or_default()
        },
        system: flag(q, "system"),
        alive_in: None,
    })
}

fn frame(f: &Option<FrameInfo>) -> Value {
    match f {
        Some(f) => json!({"func": f.func, "file": f.file, "line": f.line}),
        None => Value::Null,
    }
}

fn frames(v: &[FrameInfo]) -> Value {
    Value::Array(
        v.iter()
            .map(|f| json!({"func": f.func, "file": f.file, "line": f.line}))
            .collect(),
    )
}

// ---------------------------------------------------------------- status

/// `/api/status` (also part of every WebSocket message).
pub fn status_json(app: &Shared) -> Value {
    let st = app.status().clone();
    let version = if st.state == LoadState::Ready {
        app.model().version()
    } else {
        0
    };
    let mut v = json!({
        "state": st.state,
        "mode": st.mode,
        "source": st.source,
        "progress": {
            "done_bytes": app.done_bytes.load(Ordering::Relaxed),
            "total_bytes": st.total_bytes,
        },
        "model_version": version,
        "collecting": st.collecting,
        "target_cost": st.target_cost,
        "events": app.events.load(Ordering::Relaxed),
        "streams": st.streams,
        "stream_errors": st.stream_errors,
    });
    if let Some(e) = &st.error {
        v["error"] = json!(e);
    }
    if let Some(e) = &st.last_error {
        v["last_error"] = json!(e);
    }
    if let Some(s) = st.load_secs {
        v["load_secs"] = json!(s);
    }
    if let Some(ix) = crate::index::status(app) {
        v["index"] = ix;
    }
    if st.mode == Mode::Live {
        if let Some(lag) = app.lag() {
            v["lag_ms"] = json!(lag.as_secs_f64() * 1e3);
        }
    }
    v
}

pub async fn status(State(app): State<App>) -> Json<Value> {
    Json(status_json(&app))
}

// ---------------------------------------------------------------- summary

fn counts_json(c: [u32; 4]) -> Value {
    json!({"runnable": c[0], "running": c[1], "waiting": c[2], "syscall": c[3]})
}

fn build_summary(m: &Model) -> Value {
    let mut by_state = [0u32; 4];
    let (mut created, mut live, mut ngroups) = (0u64, 0u64, 0usize);
    let times = m.series_times();
    let mut series = vec![[0u32; 4]; times.len()];
    for g in m.groups_raw().iter().filter(|g| !g.system && g.created > 0) {
        ngroups += 1;
        created += g.created;
        live += g.live();
        for k in 0..4 {
            by_state[k] += g.counts[k];
        }
        // A group's series starts when the group was first seen: align ends.
        let off = series.len().saturating_sub(g.series.len());
        for (i, c) in g.series.iter().enumerate() {
            if let Some(s) = series.get_mut(off + i) {
                for k in 0..4 {
                    s[k] += c[k];
                }
            }
        }
    }
    let mut blocked: BTreeMap<&str, u64> = BTreeMap::new();
    for g in m.goroutines_raw() {
        if g.state == GState::Waiting && !m.group_raw(g.group).is_some_and(|x| x.system) {
            *blocked.entry(m.str(g.reason)).or_default() += 1;
        }
    }
    let sched = m.sched();
    let stats = m.stats();
    json!({
        "version": m.version(),
        "time": {"start_ns": m.first_ns(), "end_ns": m.now_ns(), "detail_start_ns": m.detail_start_ns()},
        "total_goroutines": created,
        "live": live,
        "groups": ngroups,
        "by_state": counts_json(by_state),
        "blocked_by_reason": blocked,
        "series": times.iter().zip(&series).map(|(t, c)| json!({
            "t_ns": t, "total": c.iter().sum::<u32>(),
            "runnable": c[0], "running": c[1], "waiting": c[2], "syscall": c[3],
        })).collect::<Vec<_>>(),
        "gc_fraction": sched.gc_fraction,
        "stw_fraction": sched.stw_fraction,
        "gc_count": sched.gc_count,
        "gomaxprocs": sched.gomaxprocs,
        "events": stats.events,
        "spans": stats.spans,
        "heap_bytes": stats.heap_bytes,
    })
}

/// The summary for the model's current version, recomputed at most every
/// 100 ms (live updates ask for it at that rate from every client).
pub fn summary_json(app: &Shared) -> Result<Arc<Value>, ApiError> {
    let m = ready(app)?;
    let version = m.version();
    let mut cache = app.summary_cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((v, at, val)) = cache.as_ref() {
        if *v == version || at.elapsed() < Duration::from_millis(100) {
            return Ok(val.clone());
        }
    }
    let mut val = build_summary(&m);
    crate::index::amend_summary(app, &m, &mut val);
    let val = Arc::new(val);
    *cache = Some((version, Instant::now(), val.clone()));
    Ok(val)
}

pub async fn summary(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    Ok(Json((*summary_json(&app)?).clone()))
}

// ---------------------------------------------------------------- groups

fn group_json(g: &GroupSummary, blocked: Option<&BTreeMap<String, u64>>) -> Value {
    let name = if g.id == 0 {
        "(unknown origin)".to_string()
    } else {
        g.entry.clone()
    };
    json!({
        "id": g.id,
        "name": name,
        "key": g.key,
        "entry": g.entry,
        "creation_site": frame(&g.created_at),
        "system": g.system,
        "live": g.live,
        "created": g.created,
        "exited": g.exited,
        "states": {
            "running": g.counts.running,
            "runnable": g.counts.runnable,
            "syscall": g.counts.syscall,
            "waiting": g.counts.waiting,
            "blocked": blocked.cloned().unwrap_or_default(),
        },
        "wakes_in": g.wakes_in,
        "last_wake_ns": g.last_wake_ns,
        "first_seen_ns": g.first_seen_ns,
    })
}

/// Waiting goroutines per group and reason.
fn blocked_by_group(m: &Model) -> HashMap<GroupId, BTreeMap<String, u64>> {
    let mut out: HashMap<GroupId, BTreeMap<String, u64>> = HashMap::new();
    for g in m.goroutines_raw().filter(|g| g.state == GState::Waiting) {
        *out.entry(g.group)
            .or_default()
            .entry(m.str(g.reason).to_string())
            .or_default() += 1;
    }
    out
}

pub async fn groups(State(app): State<App>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let m = ready(&app)?;
    let blocked = blocked_by_group(&m);
    let list: Vec<Value> = m
        .groups(flag(&q, "system"))
        .iter()
        .map(|g| group_json(g, blocked.get(&g.id)))
        .collect();
    Ok(Json(Value::Array(list)))
}

fn flow_json(m: &Model, f: &WakeFlow) -> Value {
    let name = |g: GroupId| m.group(g).map(|s| s.entry).unwrap_or_default();
    json!({
        "from_group": f.from_group,
        "from": match f.from_group { Some(g) => name(g), None => "runtime (netpoller, timer)".to_string() },
        "to_group": f.to_group,
        "to": name(f.to_group),
        "waker_kind": f.waker_kind,
        "count": f.count,
        "rate_per_s": f.rate_per_s,
        "first_ns": f.first_ns,
        "last_ns": f.last_ns,
        "latency_p50_ns": f.blocked.p50_ns,
        "latency_p99_ns": f.blocked.p99_ns,
        "latency_max_ns": f.blocked.max_ns,
    })
}

fn goroutine_row(m: &Model, g: &weft_timeline::Goroutine) -> Value {
    json!({
        "id": g.id,
        "group": g.group,
        "group_name": m.group_raw(g.group).map(|x| m.str(x.entry)).unwrap_or(""),
        "entry": m.str(g.entry),
        "state": g.state,
        "reason": m.str(g.reason),
        "since_ns": g.since_ns,
        "wait_ns": if g.state == GState::Dead { 0 } else { (m.now_ns() - g.since_ns).max(0) },
        "label": m.str(g.label),
        "where": frame(&m.where_frame(g.stack)),
    })
}

pub async fn group(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let id: GroupId = id
        .parse()
        .map_err(|_| bad(format!("group id {id:?} is not a number")))?;
    let offset: usize = num(&q, "offset")?.unwrap_or(0);
    let limit: usize = num::<usize>(&q, "limit")?.unwrap_or(100).min(10_000);
    let m = ready(&app)?;
    let g = m
        .group(id)
        .filter(|g| g.created > 0 || id == 0)
        .ok_or_else(|| not_found(format!("no group {id}")))?;
    let blocked = blocked_by_group(&m);
    let mut v = group_json(&g, blocked.get(&id));
    v["by_stack"] = g
        .by_stack
        .iter()
        .map(|b| {
            json!({
                "state": b.state, "reason": b.reason, "where": frame(&b.where_),
                "stack": frames(&m.stack(b.stack)), "count": b.count,
                "oldest_since_ns": b.oldest_since_ns,
            })
        })
        .collect();
    if let Some(s) = m.series(id) {
        v["series"] = s
            .times
            .iter()
            .skip(s.times.len().saturating_sub(s.counts.len()))
            .zip(&s.counts)
            .map(|(t, c)| {
                json!({"t_ns": t, "total": c.runnable + c.running + c.waiting + c.syscall,
                       "runnable": c.runnable, "running": c.running, "waiting": c.waiting, "syscall": c.syscall})
            })
            .collect();
    }
    let mut members: Vec<&weft_timeline::Goroutine> =
        m.goroutines_raw().filter(|x| x.group == id).collect();
    members.sort_by_key(|x| (x.state == GState::Dead, x.id));
    v["members"] = json!({
        "total": members.len(),
        "rows": members.iter().skip(offset).take(limit).map(|x| goroutine_row(&m, x)).collect::<Vec<_>>(),
    });
    let flows = m.wake_flows();
    v["flows_in"] = flows
        .iter()
        .filter(|f| f.to_group == id)
        .map(|f| flow_json(&m, f))
        .collect();
    v["flows_out"] = flows
        .iter()
        .filter(|f| f.from_group == Some(id))
        .map(|f| flow_json(&m, f))
        .collect();
    Ok(Json(v))
}

pub async fn flows(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let m = ready(&app)?;
    Ok(Json(
        m.wake_flows().iter().map(|f| flow_json(&m, f)).collect(),
    ))
}

// ---------------------------------------------------------------- goroutines

pub async fn goroutines(State(app): State<App>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let func = text(&q, "q");
    let st = states(&q)?;
    let reason = text(&q, "reason");
    let label = text(&q, "label");
    let min_wait: i64 = num(&q, "min_wait_ns")?.unwrap_or(0);
    let groups: Option<BTreeSet<GroupId>> = id_list(&q, "group")?;
    let offset: usize = num(&q, "offset")?.unwrap_or(0);
    let limit: usize = num::<usize>(&q, "limit")?.unwrap_or(100).min(10_000);
    let desc = flag(&q, "desc");
    let system = flag(&q, "system");
    let sort = text(&q, "sort").unwrap_or_else(|| "id".into());
    if !["id", "wait", "group", "state", "entry"].contains(&sort.as_str()) {
        return Err(bad(format!(
            "parameter sort={sort:?}: use id, wait, group, state or entry"
        )));
    }
    let m = ready(&app)?;
    let now = m.now_ns();
    let filter = RowFilter {
        groups,
        func,
        states: st,
        system,
        ..RowFilter::default()
    };
    let mut hits: Vec<&weft_timeline::Goroutine> = m
        .goroutines_raw()
        .filter(|g| rows::passes(&m, g, &filter))
        .filter(|g| {
            reason
                .as_ref()
                .map_or(true, |r| m.str(g.reason).contains(r.as_str()))
        })
        .filter(|g| {
            label
                .as_ref()
                .map_or(true, |l| m.str(g.label).contains(l.as_str()))
        })
        .filter(|g| min_wait <= 0 || (g.state != GState::Dead && now - g.since_ns >= min_wait))
        .collect();
    let wait = |g: &weft_timeline::Goroutine| {
        if g.state == GState::Dead {
            0
        } else {
            now - g.since_ns
        }
    };
    match sort.as_str() {
        "wait" => hits.sort_by_key(|g| (wait(g), g.id)),
        "group" => hits.sort_by_key(|g| (g.group, g.id)),
        "state" => hits.sort_by_key(|g| (g.state, g.id)),
        "entry" => hits.sort_by(|a, b| m.str(a.entry).cmp(m.str(b.entry)).then(a.id.cmp(&b.id))),
        _ => hits.sort_by_key(|g| g.id),
    }
    if desc {
        hits.reverse();
    }
    Ok(Json(json!({
        "total": hits.len(),
        "rows": hits.iter().skip(offset).take(limit).map(|g| goroutine_row(&m, g)).collect::<Vec<_>>(),
    })))
}

pub async fn goroutine(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| bad(format!("goroutine id {id:?} is not a number")))?;
    let m = ready(&app)?;
    let Some(g) = m.goroutine(id) else {
        drop(m);
        // Gone from the resident model: a detail model of the file may know it.
        return crate::index::goroutine(&app, id).map(Json).ok_or_else(|| {
            not_found(format!(
                "no goroutine {id} (never seen, or exited before the detail window)"
            ))
        });
    };
    let h = &g.history;
    let history: Vec<Value> = (0..h.start.len())
        .map(|i| json!({"start_ns": h.start[i], "end_ns": h.end[i], "state": h.state[i], "reason": m.str(h.reason[i])}))
        .collect();
    let peers = |v: &[(i64, u32)]| -> Value {
        v.iter()
            .map(|&(g, n)| json!({"goroutine": g, "count": n}))
            .collect()
    };
    Ok(Json(json!({
        "id": g.id,
        "group": g.group,
        "group_name": m.group_raw(g.group).map(|x| m.str(x.entry)).unwrap_or(""),
        "entry": g.entry,
        "creator": g.parent,
        "created_at": frame(&g.created_at),
        "create_stack": frames(&g.create_stack),
        "children": g.children,
        "created_ns": g.created_ns,
        "ended_ns": g.ended_ns,
        "state": g.state,
        "reason": g.reason,
        "since_ns": g.since_ns,
        "since_before_trace": g.since_before_trace,
        "label": g.label,
        "stack": frames(&g.stack),
        "history": history,
        "history_dropped": g.history_dropped,
        "woken_by": peers(&g.woken_by),
        "woke": peers(&g.woke),
        "wakes_in": g.wakes_in,
        "wakes_out": g.wakes_out,
        "recent_wakes": g.recent_wakes,
    })))
}

// ---------------------------------------------------------------- findings

pub fn findings_json(app: &Shared) -> Result<Arc<Value>, ApiError> {
    drop(ready(app)?);
    if let Some(v) = crate::sampled::findings_json(app) {
        return Ok(Arc::new(v));
    }
    let m = ready(app)?;
    let version = m.version();
    let mut cache = app.findings_cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((v, at, val)) = cache.as_ref() {
        if *v == version || at.elapsed() < Duration::from_secs(1) {
            return Ok(val.clone());
        }
    }
    let keys: HashMap<String, GroupId> = (0..m.groups_raw().len() as GroupId)
        .map(|i| (m.group_key(i), i))
        .collect();
    let list: Vec<Value> = analyze(&m, &TraceConfig::default())
        .into_iter()
        .map(|f| {
            let since = f.evidence.iter().map(|e| e.blocked_since_ns).min();
            let groups: Vec<GroupId> = f
                .finding
                .groups
                .iter()
                .filter_map(|k| keys.get(k).copied())
                .collect();
            let mut gs: Vec<u64> = f.finding.goroutines.clone();
            for e in &f.evidence {
                gs.extend(e.goroutines.iter().map(|&x| x as u64));
            }
            gs.sort_unstable();
            gs.dedup();
            json!({
                "kind": f.finding.kind,
                "summary": f.finding.summary,
                "severity": f.severity,
                "confidence": f.confidence,
                "reasoning": f.reasoning,
                "groups": groups,
                "group_keys": f.finding.groups,
                "goroutines": gs,
                "since_ns": since,
                "functions": f.functions,
                "evidence": f.evidence,
            })
        })
        .collect();
    let val = Arc::new(Value::Array(list));
    *cache = Some((version, Instant::now(), val.clone()));
    Ok(val)
}

pub async fn findings(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    // The analyses can take a while on a big model: keep them off the
    // async workers.
    let v = tokio::task::spawn_blocking(move || findings_json(&app))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json((*v).clone()))
}

// ---------------------------------------------------------------- timeline

fn range_of(m: &Model, q: &HashMap<String, String>) -> Result<TimeRange, ApiError> {
    let start = num(q, "start_ns")?.unwrap_or(m.detail_start_ns());
    let end = num(q, "end_ns")?.unwrap_or(m.now_ns() + 1);
    if end <= start {
        return Err(bad(format!("end_ns {end} must be after start_ns {start}")));
    }
    Ok(TimeRange {
        start_ns: start,
        end_ns: end,
    })
}

pub async fn rows_list(State(app): State<App>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let f = row_filter(&q)?;
    let offset: usize = num(&q, "offset")?.unwrap_or(0);
    let limit: usize = num::<usize>(&q, "limit")?.unwrap_or(200).min(5000);
    if let Some(v) = crate::index::rows(&app, &q, &f, offset, limit).await {
        return Ok(Json(v));
    }
    let m = ready(&app)?;
    let lay = rows::layout(&m, &f);
    Ok(Json(rows::layout_json(&m, &lay, offset, limit, |_, g| g)))
}

/// Most lines one `/api/timeline` answer holds (rows, or lines of `pack` rows).
const MAX_LINES: usize = 5000;

pub async fn timeline(State(app): State<App>, Query(q): Params) -> Result<Response, ApiError> {
    let f = row_filter(&q)?;
    let offset: usize = num(&q, "row_offset")?.unwrap_or(0);
    // `pack=K`: K rows to a line, their majority state (every row on screen).
    let pack: usize = num::<usize>(&q, "pack")?.unwrap_or(1);
    if pack == 0 || pack > 1_000_000 {
        return Err(bad(format!("pack {pack} must be between 1 and 1000000")));
    }
    let limit: usize = num::<usize>(&q, "row_limit")?
        .unwrap_or(200)
        .min(MAX_LINES * pack);
    let res_q: Option<i64> = num(&q, "res_ns")?;
    // A range before the resident detail: decoded from the indexed file.
    if let Some((body, source)) =
        crate::index::timeline(&app, &q, &f, res_q, offset, limit, pack).await
    {
        return Ok(timeline_response(body, source));
    }
    let m = ready(&app)?;
    let range = range_of(&m, &q)?;
    let res = rows::resolution(range, res_q);
    let lay = rows::layout(&m, &f);
    let (body, source) = if pack > 1 {
        let (b, n) = rows::encode_timeline_packed(&m, &f, &lay, range, res, offset, limit, pack);
        (b, Some(n))
    } else {
        (
            rows::encode_timeline(&m, &f, &lay, range, res, offset, limit),
            None,
        )
    };
    drop(m);
    Ok(timeline_response(body, source))
}

// A WFTL answer; packed lines also say how many spans they stand for.
fn timeline_response(body: Vec<u8>, source_spans: Option<u64>) -> Response {
    let mut r = ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
    if let Some(n) = source_spans {
        r.headers_mut()
            .insert("x-weft-source-spans", header::HeaderValue::from(n));
    }
    r
}

pub async fn bands(State(app): State<App>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    // A range before the resident detail: from the indexed file.
    if let Some(v) = crate::index::bands(&app, &q).await {
        return Ok(Json(v));
    }
    let m = ready(&app)?;
    let r = range_of(&m, &q)?;
    Ok(Json(bands_json(&m, r)))
}

/// The GC, STW and region bands of `m` overlapping `r` (the 10,000 longest
/// of each kind when there are more), as `/api/bands` answers them.
pub(crate) fn bands_json(m: &Model, r: TimeRange) -> Value {
    let (gc, stw, regions) = m.ranges();
    let pick = |v: Vec<weft_timeline::RangeInfo>| -> Value {
        let mut v: Vec<_> = v
            .into_iter()
            .filter(|x| x.end_ns > r.start_ns && x.start_ns < r.end_ns)
            .collect();
        if v.len() > 10_000 {
            v.sort_by_key(|x| std::cmp::Reverse(x.end_ns - x.start_ns));
            v.truncate(10_000);
            v.sort_by_key(|x| x.start_ns);
        }
        serde_json::to_value(v).unwrap_or(Value::Null)
    };
    json!({"gc": pick(gc), "stw": pick(stw), "regions": pick(regions)})
}

pub async fn wakes(State(app): State<App>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let ids: Option<BTreeSet<i64>> = id_list(&q, "goroutine")?;
    let groups: Option<BTreeSet<GroupId>> = id_list(&q, "group")?;
    let limit: usize = num::<usize>(&q, "limit")?.unwrap_or(2000).min(20_000);
    if let Some(v) = crate::index::wakes(&app, &q, ids.clone(), groups.clone(), limit).await {
        return Ok(Json(v));
    }
    let m = ready(&app)?;
    let r = range_of(&m, &q)?;
    let f = weft_timeline::GoroutineFilter {
        ids: ids.map(|s| s.into_iter().collect()).unwrap_or_default(),
        groups: groups.map(|s| s.into_iter().collect()).unwrap_or_default(),
        ..Default::default()
    };
    Ok(Json(
        serde_json::to_value(m.wakes(r, &f, limit)).unwrap_or(Value::Null),
    ))
}

pub async fn procs(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let m = ready(&app)?;
    let s = m.sched();
    Ok(Json(json!({
        "gomaxprocs": s.gomaxprocs,
        "procs": s.procs,
        "sched_latency": s.sched_latency,
        "block_to_wake": s.block_to_wake,
        "syscalls": s.syscalls,
        "gc_count": s.gc_count, "gc_total_ns": s.gc_total_ns,
        "stw_count": s.stw_count, "stw_total_ns": s.stw_total_ns, "stw_max_ns": s.stw_max_ns,
        "heap_alloc": s.heap_alloc, "heap_goal": s.heap_goal,
    })))
}

/// `/api/proc_lanes`: which goroutine ran on each P, binary (see
/// `docs/web-api.md`, "P lanes").
pub async fn proc_lanes(State(app): State<App>, Query(q): Params) -> Result<Response, ApiError> {
    let res_q: Option<i64> = num(&q, "res_ns")?;
    // A range before the resident detail: from the indexed file.
    if let Some(body) = crate::index::proc_lanes(&app, &q, res_q).await {
        return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response());
    }
    let m = ready(&app)?;
    let range = range_of(&m, &q)?;
    let res = rows::resolution(range, res_q);
    let lanes = m.proc_lanes(range, res);
    let gomaxprocs = m.sched().gomaxprocs;
    drop(m);
    let body = rows::encode_proc_lanes(&lanes, range, gomaxprocs);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
