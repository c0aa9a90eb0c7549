//! A log-linear latency histogram: 8 sub-buckets per power of two, so any
//! percentile is within 12.5% of the true value, in a fixed 4 KiB.
use serde::{Deserialize, Serialize};

const SUB: u32 = 8;
const BUCKETS: usize = 62 * SUB as usize;

/// Counts of nanosecond durations.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    // Allocated on the first record (a fixed size, so indexing needs no
    // bounds check on the ingest path).
    counts: Option<Box<[u64; BUCKETS]>>,
    total: u64,
    sum: u128,
    max: u64,
}

/// Percentiles read from a [`Histogram`], in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

#[inline(always)]
fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= 3
    let sub = (v >> (exp - 3)) as u32 & (SUB - 1);
    (((exp - 2) * SUB + sub) as usize).min(BUCKETS - 1)
}

// Upper bound of a bucket: the value reported for percentiles in it.
fn upper(i: usize) -> u64 {
    if i < SUB as usize {
        return i as u64;
    }
    let exp = i as u32 / SUB + 2;
    let sub = i as u64 % SUB as u64;
    ((SUB as u64 + sub + 1) << (exp - 3)) - 1
}

impl Histogram {
    /// Adds one duration.
    #[inline(always)]
    pub fn record(&mut self, ns: u64) {
        let counts = self.counts.get_or_insert_with(|| Box::new([0; BUCKETS]));
        counts[index(ns)] += 1;
        self.total += 1;
        self.sum += ns as u128;
        self.max = self.max.max(ns);
    }
    /// Adds every duration `other` holds.
    pub fn add(&mut self, other: &Histogram) {
        let Some(theirs) = &other.counts else {
            return;
        };
        let counts = self.counts.get_or_insert_with(|| Box::new([0; BUCKETS]));
        for (a, b) in counts.iter_mut().zip(theirs.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }
    /// Number of durations recorded.
    pub fn count(&self) -> u64 {
        self.total
    }
    /// The value below which `q` (0..=1) of the durations fall (bucket upper bound, capped by the max).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().flat_map(|c| c.iter()).enumerate() {
            seen += c;
            if seen >= want {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
    /// Summary percentiles.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            count: self.total,
            mean_ns: if self.total == 0 {
                0
            } else {
                (self.sum / self.total as u128) as u64
            },
            p50_ns: self.quantile(0.5),
            p90_ns: self.quantile(0.9),
            p99_ns: self.quantile(0.99),
            max_ns: self.max,
        }
    }
    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.counts.as_ref().map_or(0, |_| BUCKETS * 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            100,
            1000,
            1 << 20,
            123_456_789,
            u64::MAX / 2,
        ] {
            let i = index(v);
            assert!(i >= last);
            last = i;
            assert!(upper(i) >= v, "{v}");
            if v > 8 {
                assert!(upper(i) as f64 <= v as f64 * 1.126, "{v} {}", upper(i));
            }
        }
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p = h.percentiles();
        assert_eq!(p.count, 1000);
        assert!(p.p50_ns >= 500_000 && p.p50_ns <= 565_000, "{p:?}");
        assert!(p.p99_ns >= 990_000 && p.p99_ns <= 1_000_000, "{p:?}");
        assert_eq!(p.max_ns, 1_000_000);

        // Two halves added up answer as the whole.
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        for v in 1..=1000u64 {
            if v % 3 == 0 { &mut a } else { &mut b }.record(v * 1000);
        }
        a.add(&b);
        assert_eq!(a.percentiles(), p);
        assert_eq!(a.count(), 1000);
    }
}
