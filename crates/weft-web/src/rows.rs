//! The timeline's row layout and its binary encoding (see
//! `docs/web-api.md`, "Binary"): goroutines ordered by group then id, whole
//! groups optionally collapsed into one row, a page of rows turned into
//! compact little-endian buffers the front uploads to the GPU as is.
use std::collections::{BTreeSet, HashMap};

use weft_timeline::{GState, GroupId, Model, ProcLanes, TimeRange};

/// Which goroutines the rows cover (the query parameters of `/api/rows`
/// and `/api/timeline`).
#[derive(Clone, Debug, Default)]
pub struct RowFilter {
    pub groups: Option<BTreeSet<GroupId>>,
    pub func: Option<String>,
    pub states: Option<Vec<GState>>,
    pub collapse_all: bool,
    pub collapsed: BTreeSet<GroupId>,
    pub system: bool,
    /// Only goroutines that existed at some point of this range (a model
    /// decoded from the file for an early range knows every goroutine of
    /// its generations; rows for those gone before the range are noise).
    pub alive_in: Option<TimeRange>,
}

/// One timeline row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Goroutine {
        id: i64,
        group: GroupId,
    },
    /// A whole group on one row.
    Group(GroupId),
}

/// A group's place in the row list.
#[derive(Clone, Debug)]
pub struct GroupRows {
    pub id: GroupId,
    pub first_row: usize,
    pub row_count: usize,
    pub members: usize,
    pub collapsed: bool,
}

/// The full row list for a filter.
pub struct Layout {
    pub rows: Vec<Row>,
    pub groups: Vec<GroupRows>,
}

/// Does goroutine `g` pass the filter (state, function, group, system)?
pub fn passes(m: &Model, g: &weft_timeline::Goroutine, f: &RowFilter) -> bool {
    if let Some(gs) = &f.groups {
        if !gs.contains(&g.group) {
            return false;
        }
    }
    if !f.system && m.group_raw(g.group).is_some_and(|x| x.system) {
        return false;
    }
    if let Some(r) = f.alive_in {
        if g.created_ns.is_some_and(|c| c >= r.end_ns) || g.ended_ns.is_some_and(|e| e < r.start_ns)
        {
            return false;
        }
    }
    if let Some(st) = &f.states {
        if !st.contains(&g.state) {
            return false;
        }
    }
    if let Some(q) = &f.func {
        if !m.str(g.entry).contains(q.as_str())
            && !m
                .stack_funcs(g.stack)
                .iter()
                .any(|x| x.contains(q.as_str()))
        {
            return false;
        }
    }
    true
}

/// Lays out the rows of every goroutine the model keeps that passes `f`.
/// The `/api/rows` answer for `lay` (a layout of `m`): its groups, and its
/// rows from `offset`, at most `limit`. `group_id(goroutine, group)` gives
/// the id the client knows for a group of `m` (goroutine -1 for a group
/// header row): the identity for the resident model, the resident group
/// for a model decoded from the file.
pub fn layout_json(
    m: &Model,
    lay: &Layout,
    offset: usize,
    limit: usize,
    group_id: impl Fn(i64, GroupId) -> GroupId,
) -> serde_json::Value {
    use serde_json::json;
    let groups: Vec<serde_json::Value> = lay
        .groups
        .iter()
        .map(|g| {
            let id = group_id(-1, g.id);
            let name = m.group_raw(g.id).map(|x| m.str(x.entry)).unwrap_or("");
            json!({"id": id, "name": if id == 0 { "(unknown origin)" } else { name },
                   "first_row": g.first_row, "row_count": g.row_count, "members": g.members,
                   "collapsed": g.collapsed})
        })
        .collect();
    let rows: Vec<serde_json::Value> = lay
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(limit)
        .map(|(i, r)| match *r {
            Row::Goroutine { id, group } => {
                let st = m.goroutine_raw(id).map(|g| g.state);
                json!({"row": i, "goroutine": id, "group": group_id(id, group), "state": st})
            }
            Row::Group(g) => {
                json!({"row": i, "goroutine": -1, "group": group_id(-1, g), "state": null})
            }
        })
        .collect();
    json!({"total_rows": lay.rows.len(), "groups": groups, "rows": rows})
}

pub fn layout(m: &Model, f: &RowFilter) -> Layout {
    let mut ids: Vec<(GroupId, i64)> = m
        .goroutines_raw()
        .filter(|g| passes(m, g, f))
        .map(|g| (g.group, g.id))
        .collect();
    ids.sort_unstable();
    let mut rows = Vec::with_capacity(ids.len());
    let mut groups: Vec<GroupRows> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let gid = ids[i].0;
        let j = i + ids[i..].partition_point(|x| x.0 == gid);
        let collapsed = f.collapse_all || f.collapsed.contains(&gid);
        let first_row = rows.len();
        if collapsed {
            rows.push(Row::Group(gid));
        } else {
            rows.extend(
                ids[i..j]
                    .iter()
                    .map(|&(group, id)| Row::Goroutine { id, group }),
            );
        }
        groups.push(GroupRows {
            id: gid,
            first_row,
            row_count: rows.len() - first_row,
            members: j - i,
            collapsed,
        });
        i = j;
    }
    Layout { rows, groups }
}

/// One encoded row before serialisation.
struct OutRow {
    goroutine: i64,
    group: GroupId,
    index: u32,
    spans: Vec<(f32, f32, u8, u16)>,
}

/// Encodes rows `offset..offset+limit` of `lay` over `range` at `res_ns`.
pub fn encode_timeline(
    m: &Model,
    f: &RowFilter,
    lay: &Layout,
    range: TimeRange,
    res_ns: i64,
    offset: usize,
    limit: usize,
) -> Vec<u8> {
    let res = res_ns.max(1);
    let page =
        &lay.rows[offset.min(lay.rows.len())..(offset.saturating_add(limit)).min(lay.rows.len())];
    let mut strings: Vec<String> = vec![String::new()];
    let mut string_ix: HashMap<String, u16> = HashMap::new();
    string_ix.insert(String::new(), 0);
    let mut intern = |s: &str| -> u16 {
        if let Some(&i) = string_ix.get(s) {
            return i;
        }
        if strings.len() >= u16::MAX as usize {
            return 0;
        }
        let i = strings.len() as u16;
        strings.push(s.to_string());
        string_ix.insert(s.to_string(), i);
        i
    };
    let rel = |t: i64| (t - range.start_ns) as f32;

    // Goroutine rows of the page, in one model query.
    let ids: Vec<i64> = page
        .iter()
        .filter_map(|r| match r {
            Row::Goroutine { id, .. } => Some(*id),
            Row::Group(_) => None,
        })
        .collect();
    let iv = m.intervals_of(&ids, range, res);
    let mut by_id = iv.rows.into_iter();
    let mut out: Vec<OutRow> = Vec::with_capacity(page.len());
    for (k, r) in page.iter().enumerate() {
        let index = (offset + k) as u32;
        match *r {
            Row::Goroutine { id, group } => {
                let row = by_id.next().unwrap_or_default();
                let mut spans = Vec::with_capacity(row.start.len());
                for i in 0..row.start.len() {
                    let reason = iv.strings.get(&row.reason[i]).map_or("", |s| s.as_str());
                    spans.push((
                        rel(row.start[i]),
                        rel(row.end[i]),
                        row.state[i] as u8,
                        intern(reason),
                    ));
                }
                out.push(OutRow {
                    goroutine: id,
                    group,
                    index,
                    spans,
                });
            }
            Row::Group(gid) => {
                let spans = collapsed_row(m, f, gid, range, res)
                    .into_iter()
                    .map(|(s, e, st)| (rel(s), rel(e), st as u8, 0u16))
                    .collect();
                out.push(OutRow {
                    goroutine: -1,
                    group: gid,
                    index,
                    spans,
                });
            }
        }
    }

    serialize(&out, &strings, range, res, lay.rows.len())
}

/// Rows `offset..offset+limit` of `lay` over `range` at `res_ns`, packed
/// `pack` rows to a line: each line's spans are, per bucket of `res_ns`
/// (or coarser, at most [`MAX_BUCKETS`]), the state its rows spent most
/// time in (a collapsed group row counts as an even sample of its
/// members), runs of one state merged. So every goroutine can be on
/// screen at once, a pixel line per `pack` rows, for the cost of one pass
/// over their spans. A line's goroutine is -1, its group the group of its
/// first row, its index the layout row it starts at. Also returns how many
/// spans (at `res_ns`) the lines stand for.
#[allow(clippy::too_many_arguments)]
pub fn encode_timeline_packed(
    m: &Model,
    f: &RowFilter,
    lay: &Layout,
    range: TimeRange,
    res_ns: i64,
    offset: usize,
    limit: usize,
    pack: usize,
) -> (Vec<u8>, u64) {
    let res = res_ns.max(1);
    let pack = pack.max(1);
    let page =
        &lay.rows[offset.min(lay.rows.len())..(offset.saturating_add(limit)).min(lay.rows.len())];
    let rel = |t: i64| (t - range.start_ns) as f32;
    let mut acc = Majority::new(range, res);
    let mut source = 0u64;
    let mut strings: Vec<String> = vec![String::new()];
    let mut out: Vec<OutRow> = Vec::with_capacity(page.len().div_ceil(pack));
    for (k, chunk) in page.chunks(pack).enumerate() {
        let mut members: Vec<i64> = Vec::with_capacity(chunk.len());
        for r in chunk {
            match *r {
                Row::Goroutine { id, .. } => members.push(id),
                Row::Group(gid) => members.extend(group_sample(m, f, gid)),
            }
        }
        source += acc.add(m, &members) as u64;
        let group = match chunk[0] {
            Row::Goroutine { group, .. } => group,
            Row::Group(gid) => gid,
        };
        // Waiting runs take the reason the line's rows waited on longest.
        let reason = match acc.take_wait_reason() {
            Some(r) if strings.len() < u16::MAX as usize => {
                let i = strings.iter().position(|x| *x == r).unwrap_or_else(|| {
                    strings.push(r);
                    strings.len() - 1
                });
                i as u16
            }
            _ => 0,
        };
        out.push(OutRow {
            goroutine: -1,
            group,
            index: (offset + k * pack) as u32,
            spans: acc
                .take_runs()
                .into_iter()
                .map(|(s, e, st)| {
                    let r = if st == GState::Waiting { reason } else { 0 };
                    (rel(s), rel(e), st as u8, r)
                })
                .collect(),
        });
    }
    (
        serialize(&out, &strings, range, res, lay.rows.len()),
        source,
    )
}

// The WFTL bytes of encoded rows (docs/web-api.md, "Binary").
fn serialize(
    out: &[OutRow],
    strings: &[String],
    range: TimeRange,
    res: i64,
    total_rows: usize,
) -> Vec<u8> {
    let span_count: usize = out.iter().map(|r| r.spans.len()).sum();
    let str_bytes: usize = strings.iter().map(|s| 2 + s.len()).sum();
    let mut b = Vec::with_capacity(48 + out.len() * 24 + span_count * 12 + str_bytes);
    b.extend_from_slice(b"WFTL");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(out.len() as u32).to_le_bytes());
    b.extend_from_slice(&(span_count as u32).to_le_bytes());
    b.extend_from_slice(&range.start_ns.to_le_bytes());
    b.extend_from_slice(&range.end_ns.to_le_bytes());
    b.extend_from_slice(&res.to_le_bytes());
    b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    b.extend_from_slice(&(total_rows as u32).to_le_bytes());
    let mut first = 0u32;
    for r in out {
        b.extend_from_slice(&r.goroutine.to_le_bytes());
        b.extend_from_slice(&r.group.to_le_bytes());
        b.extend_from_slice(&first.to_le_bytes());
        b.extend_from_slice(&(r.spans.len() as u32).to_le_bytes());
        b.extend_from_slice(&r.index.to_le_bytes());
        first += r.spans.len() as u32;
    }
    for r in out {
        for &(s, e, st, reason) in &r.spans {
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&e.to_le_bytes());
            b.push(st);
            b.push(0);
            b.extend_from_slice(&reason.to_le_bytes());
        }
    }
    for s in strings {
        let bytes = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        b.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        b.extend_from_slice(bytes);
    }
    b
}

/// Most members a collapsed row is computed from.
const MAX_SAMPLE: usize = 2000;

/// Most buckets a collapsed row is computed on.
const MAX_BUCKETS: i64 = 8192;

/// An even sample of at most [`MAX_SAMPLE`] members of group `gid` that
/// pass `f`: the majority state of a big group is the same on the sample,
/// at a fraction of the cost (100k members: ~400 ms → ~10).
fn group_sample(m: &Model, f: &RowFilter, gid: GroupId) -> Vec<i64> {
    let members: Vec<i64> = m
        .goroutines_raw()
        .filter(|g| g.group == gid && passes(m, g, f))
        .map(|g| g.id)
        .collect();
    if members.len() > MAX_SAMPLE {
        let step = members.len() as f64 / MAX_SAMPLE as f64;
        (0..MAX_SAMPLE)
            .map(|i| members[(i as f64 * step) as usize])
            .collect()
    } else {
        members
    }
}

/// A collapsed group's row: per bucket of `res` (or coarser, at most
/// [`MAX_BUCKETS`]), the state its members (an even sample of at most
/// [`MAX_SAMPLE`] of them) spent most time in; runs of one state merged.
fn collapsed_row(
    m: &Model,
    f: &RowFilter,
    gid: GroupId,
    range: TimeRange,
    res: i64,
) -> Vec<(i64, i64, GState)> {
    let mut acc = Majority::new(range, res);
    acc.add(m, &group_sample(m, f, gid));
    acc.take_runs()
}

/// Time per state per bucket over a set of goroutines, and the runs of
/// their majority state. Costs one pass over the goroutines' spans plus
/// the buckets (partial buckets at span ends, whole ones through a
/// difference array); the buffers are reused from one set to the next.
struct Majority {
    range: TimeRange,
    /// Bucket width (ns).
    w: i64,
    acc: Vec<[i64; 4]>,
    diff: Vec<[i64; 4]>,
    /// Waiting time per reason over the whole range.
    wait: HashMap<String, i64>,
}

impl Majority {
    fn new(range: TimeRange, res: i64) -> Majority {
        let len = (range.end_ns - range.start_ns).max(1);
        let w = res.max((len + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1);
        let nb = ((len + w - 1) / w) as usize;
        Majority {
            range,
            w,
            acc: vec![[0; 4]; nb],
            diff: vec![[0; 4]; nb + 1],
            wait: HashMap::new(),
        }
    }

    /// Adds the spans of goroutines `ids`; returns how many there were.
    fn add(&mut self, m: &Model, ids: &[i64]) -> usize {
        let (w, nb, start) = (self.w, self.acc.len(), self.range.start_ns);
        let iv = m.intervals_of(ids, self.range, w);
        let mut n = 0;
        for row in &iv.rows {
            n += row.start.len();
            for i in 0..row.start.len() {
                let st = row.state[i] as usize;
                if st > 3 {
                    continue;
                }
                let (s, e) = (row.start[i] - start, row.end[i] - start);
                if row.state[i] == GState::Waiting {
                    if let Some(r) = iv.strings.get(&row.reason[i]) {
                        match self.wait.get_mut(r.as_str()) {
                            Some(t) => *t += e - s,
                            None => {
                                self.wait.insert(r.clone(), e - s);
                            }
                        }
                    }
                }
                let (bs, be) = ((s / w) as usize, (((e - 1) / w) as usize).min(nb - 1));
                if bs == be {
                    self.acc[bs][st] += e - s;
                    continue;
                }
                self.acc[bs][st] += (bs as i64 + 1) * w - s;
                self.acc[be][st] += e - be as i64 * w;
                self.diff[bs + 1][st] += w;
                self.diff[be][st] -= w;
            }
        }
        n
    }

    /// The reason goroutines added since the last call waited on longest.
    fn take_wait_reason(&mut self) -> Option<String> {
        let best = self
            .wait
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(r, _)| r.clone());
        self.wait.clear();
        best.filter(|r| !r.is_empty())
    }

    /// The runs of the majority state of what was added (buckets with no
    /// time at all are gaps), and clears the buffers for the next set.
    fn take_runs(&mut self) -> Vec<(i64, i64, GState)> {
        let (w, start, end) = (self.w, self.range.start_ns, self.range.end_ns);
        let mut run = [0i64; 4];
        let mut out: Vec<(i64, i64, GState)> = Vec::new();
        for b in 0..self.acc.len() {
            for st in 0..4 {
                run[st] += self.diff[b][st];
                self.acc[b][st] += run[st];
            }
            let (best, &wt) = self.acc[b].iter().enumerate().max_by_key(|x| *x.1).unwrap();
            self.acc[b] = [0; 4];
            self.diff[b] = [0; 4];
            if wt == 0 {
                continue;
            }
            let st = match best {
                0 => GState::Runnable,
                1 => GState::Running,
                2 => GState::Waiting,
                _ => GState::Syscall,
            };
            let s = start + b as i64 * w;
            let e = (s + w).min(end);
            match out.last_mut() {
                Some(last) if last.2 == st && last.1 == s => last.1 = e,
                _ => out.push((s, e, st)),
            }
        }
        if let Some(d) = self.diff.last_mut() {
            *d = [0; 4];
        }
        out
    }
}

/// The resolution of a timeline or P-lane answer: the one asked, else
/// 1/2000 of the range (about a pixel of a wide plot); at least 1 ns.
pub fn resolution(range: TimeRange, asked: Option<i64>) -> i64 {
    asked
        .unwrap_or((range.end_ns - range.start_ns) / 2000)
        .max(1)
}

/// Encodes P lanes (see `docs/web-api.md`, "P lanes"): a 48-byte header,
/// one 16-byte entry per lane, then four columns over all runs (goroutine
/// f64, start f32, end f32, group u32; times in ns from `range.start_ns`).
/// Columns rather than records keep every column aligned for typed arrays.
pub fn encode_proc_lanes(lanes: &ProcLanes, range: TimeRange, gomaxprocs: u64) -> Vec<u8> {
    let n: usize = lanes.lanes.iter().map(|l| l.start.len()).sum();
    let mut b = Vec::with_capacity(48 + lanes.lanes.len() * 16 + n * 20);
    b.extend_from_slice(b"WFPL");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(lanes.lanes.len() as u32).to_le_bytes());
    b.extend_from_slice(&(n as u32).to_le_bytes());
    b.extend_from_slice(&range.start_ns.to_le_bytes());
    b.extend_from_slice(&range.end_ns.to_le_bytes());
    b.extend_from_slice(&lanes.resolution_ns.to_le_bytes());
    b.extend_from_slice(&(gomaxprocs.min(u32::MAX as u64) as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    let mut first = 0u32;
    for l in &lanes.lanes {
        b.extend_from_slice(&l.proc.to_le_bytes());
        b.extend_from_slice(&first.to_le_bytes());
        b.extend_from_slice(&(l.start.len() as u32).to_le_bytes());
        first += l.start.len() as u32;
    }
    let rel = |t: i64| (t - range.start_ns) as f32;
    for l in &lanes.lanes {
        for &g in &l.goroutine {
            b.extend_from_slice(&(g as f64).to_le_bytes());
        }
    }
    for l in &lanes.lanes {
        for &t in &l.start {
            b.extend_from_slice(&rel(t).to_le_bytes());
        }
    }
    for l in &lanes.lanes {
        for &t in &l.end {
            b.extend_from_slice(&rel(t).to_le_bytes());
        }
    }
    for l in &lanes.lanes {
        for &g in &l.group {
            b.extend_from_slice(&g.to_le_bytes());
        }
    }
    b
}
