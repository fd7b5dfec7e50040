//! The verdict printed before the tables: per workload and threshold, the fastest backend
//! and the one with the smallest peak RSS, a tie only where a rank test cannot tell the
//! repetitions apart, and a one-line reason in terms of the allocator, migration and
//! the threshold.

use crate::report::{
    self, bytes, Metric, Row, MIGRATIONS, OWN_NS, OWN_SHARE, PEAK_RESERVED_BYTES,
    PEAK_RETIRED_BYTES, PEAK_RSS_BYTES, PEAK_STRANDED_BYTES, PEAK_USED_BYTES, ROTATIONS, WALL_MS,
};
use crate::workload::Kind;
use serde::Serialize;
use std::fmt::Write as _;

/// The significance level of the rank test.
pub const ALPHA: f64 = 0.05;

/// One backend's figure, as the verdict compares it.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub backend: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Two-sided Mann–Whitney p-value against the winner (1 for the winner itself).
    pub p: f64,
    /// Whether the test cannot tell it from the winner (`p >= ALPHA`).
    pub tie: bool,
}

/// The best backend on one figure, and how the others compare.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    /// The figure's key (`wall_ms`, `peak_rss_bytes`).
    pub metric: &'static str,
    /// Every candidate, the winner first, then by median.
    pub standings: Vec<Standing>,
    /// Why, in terms of the allocator, migration and the threshold.
    pub reason: String,
}

impl Pick {
    /// The winner.
    pub fn winner(&self) -> &str {
        &self.standings[0].backend
    }
}

/// The verdict on one workload at one threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub workload: Kind,
    pub threshold: usize,
    pub repetitions: usize,
    pub fastest: Pick,
    pub smallest_rss: Pick,
}

/// The verdicts for every workload and threshold with at least one safe backend.
pub fn verdicts(rows: &[Row]) -> Vec<Verdict> {
    report::groups(rows)
        .into_iter()
        .filter_map(|(w, threshold, here)| {
            // The seed policy is the hazard demonstration, never a candidate.
            let safe: Vec<&Row> = here
                .into_iter()
                .filter(|r| r.backend != "seed-arena")
                .collect();
            if safe.is_empty() {
                return None;
            }
            let fastest = pick(&safe, &WALL_MS);
            let smallest_rss = pick(&safe, &PEAK_RSS_BYTES);
            let fastest = Pick {
                reason: time_reason(&safe, &fastest),
                ..fastest
            };
            let smallest_rss = Pick {
                reason: rss_reason(&safe, &smallest_rss, threshold),
                ..smallest_rss
            };
            Some(Verdict {
                workload: w.kind,
                threshold,
                repetitions: safe.iter().map(|r| r.runs.len()).min().unwrap_or(0),
                fastest,
                smallest_rss,
            })
        })
        .collect()
}

fn pick(rows: &[&Row], m: &Metric) -> Pick {
    let mut order: Vec<&Row> = rows.to_vec();
    order.sort_by(|a, b| a.median(m).total_cmp(&b.median(m)));
    let best = order[0].values(m);
    let standings = order
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let s = r.figures[m.name];
            let p = if i == 0 {
                1.0
            } else {
                mann_whitney_p(&best, &r.values(m))
            };
            Standing {
                backend: r.backend.clone(),
                median: s.median,
                min: s.min,
                max: s.max,
                p,
                tie: p >= ALPHA,
            }
        })
        .collect();
    Pick {
        metric: m.name,
        standings,
        reason: String::new(),
    }
}

fn row<'a>(rows: &[&'a Row], backend: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.backend == backend)
        .expect("a standing names a row")
}

/// The backend the winner is explained against: the first one it beats beyond noise,
/// or else the runner-up.
fn foil(p: &Pick) -> Option<&Standing> {
    p.standings[1..]
        .iter()
        .find(|s| !s.tie)
        .or_else(|| p.standings.get(1))
}

fn time_reason(rows: &[&Row], p: &Pick) -> String {
    let w = row(rows, p.winner());
    let Some(f) = foil(p) else {
        return "the only backend run".into();
    };
    let o = row(rows, &f.backend);
    let mut why = if p.standings[1..].iter().all(|s| s.tie) {
        "no backend is faster beyond the noise of the repetitions".to_string()
    } else {
        format!(
            "{} took {} ms against {} ms on {}",
            w.backend,
            report::ms(w.median(&WALL_MS)),
            report::ms(o.median(&WALL_MS)),
            o.backend
        )
    };
    why += &format!(
        "; allocating and releasing values is about {} of {}'s CPU time and {} of {}'s \
         (the allocator alone: {:.1} and {:.1} ns/value), the rest is the workload's own work",
        OWN_SHARE.show(w.median(&OWN_SHARE)),
        w.backend,
        OWN_SHARE.show(o.median(&OWN_SHARE)),
        o.backend,
        w.median(&OWN_NS),
        o.median(&OWN_NS),
    );
    for r in [w, o] {
        let rot = r.median(&ROTATIONS);
        if rot > 0.0 {
            why += &format!(
                "; {} rotated {} arena generations at the threshold",
                r.backend,
                report::count(rot)
            );
        }
        let stranded = r.median(&PEAK_STRANDED_BYTES);
        if stranded > 0.0 {
            why += &format!(
                "; {} left up to {} of live values on threads its strands had moved from \
                 ({} migrations)",
                r.backend,
                bytes(stranded),
                report::count(r.median(&MIGRATIONS))
            );
        }
    }
    why
}

fn rss_reason(rows: &[&Row], p: &Pick, threshold: usize) -> String {
    let w = row(rows, p.winner());
    let Some(worst) = p.standings.last().filter(|s| s.backend != w.backend) else {
        return "the only backend run".into();
    };
    let o = row(rows, &worst.backend);
    let mut why = format!(
        "{} peaked at {} RSS; {} at {}, its backend reserving up to {} for {} of live values",
        w.backend,
        bytes(w.median(&PEAK_RSS_BYTES)),
        o.backend,
        bytes(o.median(&PEAK_RSS_BYTES)),
        bytes(o.median(&PEAK_RESERVED_BYTES)),
        bytes(o.median(&PEAK_USED_BYTES)),
    );
    let stranded = o.median(&PEAK_STRANDED_BYTES);
    if stranded > 0.0 {
        why += &format!(
            ", up to {} of them stranded on threads its strands had left",
            bytes(stranded)
        );
    }
    let retired = o.median(&PEAK_RETIRED_BYTES);
    if retired > 0.0 {
        why += &format!(
            ", and {} of arena kept from reset by live values (threshold {})",
            bytes(retired),
            bytes(threshold as f64)
        );
    }
    why
}

/// What scopes change for one backend at one threshold: the `actor-scoped` workload
/// against `actor`, and against global-malloc's `actor-scoped`.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeEffect {
    pub backend: String,
    pub threshold: usize,
    /// Median peak RSS without scopes and with.
    pub rss_without: f64,
    pub rss_with: f64,
    /// Median peak RSS with scopes divided by global-malloc's with scopes.
    pub rss_with_vs_heap: f64,
    /// Median wall time (ms) without scopes and with.
    pub wall_without_ms: f64,
    pub wall_with_ms: f64,
    /// Median wall time with scopes divided by global-malloc's with scopes, and the rank
    /// test's p-value of the two (1 for global-malloc itself).
    pub wall_with_vs_heap: f64,
    pub wall_p: f64,
}

/// What scopes change, for every backend and threshold where both actor workloads ran
/// (and global-malloc with scopes, which the others are held against).
pub fn scope_effects(rows: &[Row]) -> Vec<ScopeEffect> {
    let find = |kind: Kind, threshold: usize, backend: &str| {
        rows.iter()
            .find(|r| r.workload.kind == kind && r.threshold == threshold && r.backend == backend)
    };
    rows.iter()
        .filter(|r| r.workload.kind == Kind::ActorScoped && r.backend != "seed-arena")
        .filter_map(|with| {
            let without = find(Kind::Actor, with.threshold, &with.backend)?;
            let heap = find(Kind::ActorScoped, with.threshold, "global-malloc")?;
            Some(ScopeEffect {
                backend: with.backend.clone(),
                threshold: with.threshold,
                rss_without: without.median(&PEAK_RSS_BYTES),
                rss_with: with.median(&PEAK_RSS_BYTES),
                rss_with_vs_heap: with.median(&PEAK_RSS_BYTES)
                    / heap.median(&PEAK_RSS_BYTES).max(1.0),
                wall_without_ms: without.median(&WALL_MS),
                wall_with_ms: with.median(&WALL_MS),
                wall_with_vs_heap: with.median(&WALL_MS) / heap.median(&WALL_MS).max(1e-9),
                wall_p: if with.backend == heap.backend {
                    1.0
                } else {
                    mann_whitney_p(&with.values(&WALL_MS), &heap.values(&WALL_MS))
                },
            })
        })
        .collect()
}

/// The scope effects as printed, wrapped to `width` columns (empty when there are none).
pub fn render_scope_effects(effects: &[ScopeEffect], width: usize) -> String {
    if effects.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "
",
    );
    out.push_str(&report::wrap(
        "SCOPES: actor-scoped (one scope per message, the state escaping to the heap) against \
         actor (the same work without scopes)",
        width,
        "",
        "  ",
    ));
    for e in effects {
        let time = if e.wall_p >= ALPHA {
            ", a tie with global-malloc's".to_string()
        } else if e.wall_with_vs_heap < 1.0 {
            ", faster than global-malloc's".to_string()
        } else {
            ", slower than global-malloc's".to_string()
        };
        // Global-malloc is the reference the others are held against.
        let (rss_vs, wall_vs) = if e.backend == "global-malloc" {
            (String::new(), String::new())
        } else {
            (
                format!(" ({:.2}x global-malloc's with scopes)", e.rss_with_vs_heap),
                format!(" ({:.2}x{time})", e.wall_with_vs_heap),
            )
        };
        out.push_str(&report::wrap(
            &format!(
                "{} (threshold {}): peak RSS {} without scopes, {} with{rss_vs}; wall time {} \
                 ms without, {} ms with{wall_vs}",
                e.backend,
                bytes(e.threshold as f64),
                bytes(e.rss_without),
                bytes(e.rss_with),
                report::ms(e.wall_without_ms),
                report::ms(e.wall_with_ms),
            ),
            width,
            "  ",
            "    ",
        ));
    }
    out
}

/// The two-sided p-value of the Mann–Whitney U test of `a` against `b`: the chance,
/// if both came from one distribution, of ranks at least this far apart. Exact (by
/// counting rank arrangements), with ties counted as half.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    // U counts the pairs where `a` is the larger, ties as a half; in halves here.
    let mut u2 = 0usize;
    for x in a {
        for y in b {
            u2 += match x.total_cmp(y) {
                std::cmp::Ordering::Greater => 2,
                std::cmp::Ordering::Equal => 1,
                std::cmp::Ordering::Less => 0,
            };
        }
    }
    let u2 = u2.min(2 * m * n - u2);
    // The extreme tail: arrangements whose U is at most this one's (rounded up, which
    // makes the test conservative when there are ties).
    let u = u2.div_ceil(2);
    let counts = u_distribution(m, n);
    let total: f64 = counts.iter().sum();
    let tail: f64 = counts[..=u.min(counts.len() - 1)].iter().sum();
    (2.0 * tail / total).min(1.0)
}

/// How many of the arrangements of `m` and `n` distinct values give each U, 0 ..= m·n.
fn u_distribution(m: usize, n: usize) -> Vec<f64> {
    // f[j][u]: arrangements of i values of `a` and j of `b` with U = u, built up over i.
    let top = m * n;
    let mut prev: Vec<Vec<f64>> = (0..=n)
        .map(|_| {
            let mut v = vec![0.0; top + 1];
            v[0] = 1.0;
            v
        })
        .collect();
    for _i in 1..=m {
        let mut cur: Vec<Vec<f64>> = vec![vec![0.0; top + 1]; n + 1];
        cur[0][0] = 1.0;
        for j in 1..=n {
            for u in 0..=top {
                // The largest value is from `a` (it beats all j of `b`) or from `b`.
                let from_a = if u >= j { prev[j][u - j] } else { 0.0 };
                cur[j][u] = from_a + cur[j - 1][u];
            }
        }
        prev = cur;
    }
    prev.swap_remove(n)
}

/// The median with its unit, then the range in the same unit.
fn range_text(metric: &str, s: &Standing) -> String {
    let (scale, unit) = if metric == WALL_MS.name {
        (1.0, "ms")
    } else {
        // The unit `bytes` picks for the median.
        let units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut scale = 1.0;
        let mut u = 0;
        while s.median.abs() / scale >= 1024.0 && u < units.len() - 1 {
            scale *= 1024.0;
            u += 1;
        }
        (scale, units[u])
    };
    let num = |x: f64| {
        let v = x / scale;
        if v >= 100.0 || unit == "B" {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    if s.min == s.max {
        format!("{} {unit}", num(s.median))
    } else {
        format!("{} {unit} ({}–{})", num(s.median), num(s.min), num(s.max))
    }
}

fn render_pick(out: &mut String, title: &str, p: &Pick, width: usize) {
    let best = &p.standings[0];
    let name = p
        .standings
        .iter()
        .map(|s| s.backend.chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    for (i, s) in p.standings.iter().enumerate() {
        let range = range_text(p.metric, s);
        let lead = if i == 0 { title } else { "" };
        let judged = if i == 0 {
            String::new()
        } else {
            let p = if s.p < 0.001 {
                "p<0.001".to_string()
            } else {
                format!("p={:.3}", s.p)
            };
            format!(
                "  {:.2}x, {} ({p})",
                s.median / best.median.max(f64::MIN_POSITIVE),
                if s.tie { "tie" } else { "worse" },
            )
        };
        let line = format!("  {lead:<19}{:<name$} {range}", s.backend);
        // The judgement goes on a line of its own when both do not fit.
        if line.chars().count() + judged.chars().count() <= width {
            let _ = writeln!(out, "{line}{judged}");
        } else {
            let _ = writeln!(out, "{line}\n{:<21}{}", "", judged.trim_start());
        }
    }
    out.push_str(&report::wrap(
        &format!("why: {}", p.reason),
        width,
        "    ",
        "      ",
    ));
}

impl Verdict {
    /// The verdict as printed, wrapped to `width` columns.
    pub fn render(&self, width: usize) -> String {
        let mut out = format!(
            "\n{}, threshold {}, {}\n",
            self.workload,
            bytes(self.threshold as f64),
            report::plural(self.repetitions, "repetition"),
        );
        if self.repetitions < 4 {
            out.push_str(&report::wrap(
                "(too few repetitions to tell any difference from noise: every \
                 difference below is a tie)",
                width,
                "  ",
                "  ",
            ));
        }
        render_pick(&mut out, "fastest", &self.fastest, width);
        render_pick(&mut out, "smallest peak RSS", &self.smallest_rss, width);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_samples_are_significant_and_overlapping_ones_are_not() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        // Exact: 2 of the C(10, 5) = 252 arrangements are this extreme.
        assert!((mann_whitney_p(&a, &b) - 2.0 / 252.0).abs() < 1e-12);
        assert!((mann_whitney_p(&b, &a) - 2.0 / 252.0).abs() < 1e-12);
        let c = [1.0, 3.0, 5.0, 7.0, 9.0];
        let d = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert!(mann_whitney_p(&c, &d) > 0.5);
        // Three against three can never reach 5 %.
        assert!(mann_whitney_p(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) >= 0.1 - 1e-12);
        assert_eq!(mann_whitney_p(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
    }

    #[test]
    fn the_u_distribution_counts_every_arrangement() {
        let d = u_distribution(4, 3);
        assert_eq!(d.iter().sum::<f64>(), 35.0); // C(7, 3)
        assert_eq!(d[0], 1.0);
        assert_eq!(d[12], 1.0);
        // Symmetric.
        for u in 0..=12 {
            assert_eq!(d[u], d[12 - u]);
        }
    }
}
