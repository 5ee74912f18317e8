//! Programme targets ("by 2025, 100 % of DTTS reached by information on law") and progress
//! towards them: actual, target, % achieved, and whether the unit is on track.

use crate::period::Period;
use serde::Serialize;

/// Where a unit stands against one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The target's period is over (or its figure is in) and the target is met.
    Achieved,
    /// The target's period is over and the target is missed.
    Missed,
    /// Before the target's period: the latest figure is at or above the path from the baseline.
    OnTrack,
    /// Before the target's period: below the path from the baseline.
    OffTrack,
    /// No figure yet, or no baseline to draw a path from.
    Unknown,
}

impl Status {
    pub fn label_vi(&self) -> &'static str {
        match self {
            Status::Achieved => "Đã đạt",
            Status::Missed => "Không đạt",
            Status::OnTrack => "Đúng tiến độ",
            Status::OffTrack => "Chậm tiến độ",
            Status::Unknown => "Chưa đủ số liệu",
        }
    }
}

/// Progress towards one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub target: f64,
    pub target_period: Period,
    /// The latest figure at or before the target's period, and its period.
    pub actual: Option<f64>,
    pub actual_period: Option<Period>,
    /// actual / target × 100.
    pub achieved_pct: Option<f64>,
    /// Where the path from the baseline to the target stands at the actual's period.
    pub expected: Option<f64>,
    pub status: Status,
    pub on_track: Option<bool>,
}

/// Progress of a target (higher is better) from the figures of the unit over time.
/// `baseline` is where the path starts: an earlier target of the same indicator and unit, or the
/// earliest figure. `figures` are (period, value), in any order.
pub fn progress(
    target: f64,
    target_period: Period,
    baseline: Option<(Period, f64)>,
    figures: &[(Period, f64)],
) -> Progress {
    let (_, t_end) = target_period.month_range();
    let latest = figures
        .iter()
        .filter(|(p, _)| p.month_range().1 <= t_end)
        .max_by_key(|(p, _)| (p.month_range().1, std::cmp::Reverse(p.kind().months())))
        .copied();
    let baseline = baseline.or_else(|| {
        figures
            .iter()
            .filter(|(p, _)| p.month_range().1 < t_end)
            .min_by_key(|(p, _)| p.month_range().1)
            .copied()
    });
    let mut out = Progress {
        target,
        target_period,
        actual: latest.map(|l| l.1),
        actual_period: latest.map(|l| l.0),
        achieved_pct: latest
            .filter(|_| target != 0.0)
            .map(|(_, a)| a / target * 100.0),
        expected: None,
        status: Status::Unknown,
        on_track: None,
    };
    let Some((ap, a)) = latest else {
        return out;
    };
    if ap.month_range().1 >= t_end {
        out.status = if a >= target {
            Status::Achieved
        } else {
            Status::Missed
        };
        out.on_track = Some(a >= target);
        out.expected = Some(target);
        return out;
    }
    if let Some((bp, b)) = baseline {
        let (b_end, a_end) = (bp.month_range().1 as f64, ap.month_range().1 as f64);
        if (b_end as u32) < t_end && b_end <= a_end {
            let expected = b + (target - b) * (a_end - b_end) / (t_end as f64 - b_end);
            out.expected = Some(expected);
            let ok = a >= expected - 1e-9;
            out.on_track = Some(ok);
            out.status = if ok {
                Status::OnTrack
            } else {
                Status::OffTrack
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    #[test]
    fn achieved_missed_and_on_track() {
        // 2025 target of 100 %, 2023 target of 95 % as baseline
        let base = Some((p("2023"), 95.0));
        let r = progress(
            100.0,
            p("2025"),
            base,
            &[(p("2023"), 96.0), (p("2024"), 98.0)],
        );
        assert_eq!(r.actual, Some(98.0));
        assert_eq!(r.expected, Some(97.5));
        assert_eq!(r.status, Status::OnTrack);
        assert_eq!(r.achieved_pct, Some(98.0));
        let r = progress(100.0, p("2025"), base, &[(p("2024"), 96.0)]);
        assert_eq!(r.status, Status::OffTrack);
        let r = progress(
            100.0,
            p("2025"),
            base,
            &[(p("2024"), 96.0), (p("2025"), 100.0)],
        );
        assert_eq!(r.status, Status::Achieved);
        let r = progress(
            100.0,
            p("2025"),
            base,
            &[(p("2025"), 99.0), (p("2026"), 100.0)],
        );
        assert_eq!(
            (r.status, r.actual),
            (Status::Missed, Some(99.0)),
            "later figures do not count"
        );
        // a quarter inside the year counts as the latest figure before the year's end
        let r = progress(
            80.0,
            p("2025"),
            Some((p("2023"), 60.0)),
            &[(p("2024Q2"), 70.0)],
        );
        assert_eq!(
            r.expected,
            Some(60.0 + 20.0 * 6.0 / 24.0),
            "June 2024 is 6 of the 24 months"
        );
        assert_eq!(r.status, Status::OnTrack);
        // nothing yet
        let r = progress(100.0, p("2025"), None, &[]);
        assert_eq!((r.status, r.actual), (Status::Unknown, None));
        // no baseline: the earliest figure starts the path
        let r = progress(
            100.0,
            p("2025"),
            None,
            &[(p("2022"), 70.0), (p("2024"), 80.0)],
        );
        assert_eq!(r.expected, Some(90.0));
        assert_eq!(r.status, Status::OffTrack);
    }
}
