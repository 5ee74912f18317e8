//! Class breaks for choropleth maps: quantiles, equal intervals and Jenks natural breaks.
//!
//! Every method returns [`Classes`]: bounds `b₀ ≤ b₁ ≤ … ≤ bₖ` of `k` classes, `b₀` the smallest
//! value and `bₖ` the largest. Class 0 is the closed interval `[b₀, b₁]`; class `i > 0` is
//! `(bᵢ, bᵢ₊₁]` — upper bounds are inclusive (QGIS's and DHIS2's convention), so a value equal
//! to a bound belongs to the lower class. `b₀ = b₁` is allowed (class 0 then holds the values
//! equal to the minimum); a class `(b, b]` could hold nothing and is never returned: bounds that
//! would make one are merged, so a method may return fewer classes than asked (ties, fewer
//! distinct values than classes). Missing values (NaN, ±∞) are left out; with no value left
//! there are no classes (`bounds` is empty).

use std::cmp::Ordering;

/// How class breaks are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Breaks {
    /// Quantiles (equal counts): see [`quantile`].
    #[default]
    Quantile,
    /// Equal intervals between the smallest and the largest value: see [`equal_interval`].
    EqualInterval,
    /// Jenks natural breaks, computed exactly (Fisher's dynamic programming): see [`jenks`].
    Jenks,
}

impl Breaks {
    /// The method's name in Vietnamese, as the legend says it.
    pub fn name_vi(self) -> &'static str {
        match self {
            Breaks::Quantile => "phân vị (số đơn vị bằng nhau)",
            Breaks::EqualInterval => "khoảng đều",
            Breaks::Jenks => "ngắt tự nhiên (Jenks)",
        }
    }

    /// The breaks of `values` into at most `k` classes by this method.
    pub fn classes(self, values: &[f64], k: usize) -> Classes {
        match self {
            Breaks::Quantile => quantile(values, k),
            Breaks::EqualInterval => equal_interval(values, k),
            Breaks::Jenks => jenks(values, k),
        }
    }
}

/// Class bounds (see the module documentation); `bounds.len()` is the number of classes plus
/// one, or 0 when there was no value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classes {
    pub bounds: Vec<f64>,
}

impl Classes {
    /// Bounds as given, with classes `(b, b]` merged away (see the module documentation).
    pub fn new(bounds: Vec<f64>) -> Classes {
        let mut out: Vec<f64> = Vec::with_capacity(bounds.len());
        for b in bounds {
            if out.len() >= 2 && b <= out[out.len() - 1] {
                continue;
            }
            out.push(b);
        }
        if out.len() == 1 {
            out.push(out[0]);
        }
        Classes { bounds: out }
    }

    /// How many classes.
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class of a value: the first `i` with `v ≤ bᵢ₊₁`; values below `b₀` fall in the first
    /// class and values above `bₖ` in the last. `None` for a missing value or when there are no
    /// classes.
    pub fn class_of(&self, v: f64) -> Option<usize> {
        if !v.is_finite() || self.is_empty() {
            return None;
        }
        let upper = &self.bounds[1..];
        // Number of upper bounds strictly below v.
        let i = upper.partition_point(|b| *b < v);
        Some(i.min(upper.len() - 1))
    }

    /// The same classes with inner bounds rounded to `decimals` decimals (the first and last
    /// bounds kept): what the legend shows is then exactly what classifies.
    pub fn rounded(&self, decimals: u32) -> Classes {
        if self.bounds.len() < 3 {
            return self.clone();
        }
        let p = 10f64.powi(decimals as i32);
        let n = self.bounds.len();
        let b: Vec<f64> = self
            .bounds
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if i == 0 || i == n - 1 {
                    b
                } else {
                    ((b * p).round() / p).clamp(self.bounds[0], self.bounds[n - 1])
                }
            })
            .collect();
        Classes::new(b)
    }
}

/// The finite values, sorted.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    v
}

/// Quantile breaks: `bᵢ` is the `i/k` quantile of the values by Hyndman & Fan's type 7 — linear
/// interpolation between order statistics, `h = (n − 1)·p`, `Q(p) = x₍⌊h⌋₎ + (h − ⌊h⌋)·(x₍⌊h⌋+1₎ −
/// x₍⌊h⌋₎)` on the 0-based sorted values. It is R's and NumPy's default and what QGIS's "Equal
/// Count (Quantile)" computes. Ties can make bounds coincide: those classes are merged.
pub fn quantile(values: &[f64], k: usize) -> Classes {
    let x = sorted(values);
    if x.is_empty() || k == 0 {
        return Classes::default();
    }
    let n = x.len();
    let q = |p: f64| {
        let h = (n - 1) as f64 * p;
        let lo = h.floor() as usize;
        if lo + 1 >= n {
            x[n - 1]
        } else {
            x[lo] + (h - lo as f64) * (x[lo + 1] - x[lo])
        }
    };
    let mut b: Vec<f64> = (0..=k).map(|i| q(i as f64 / k as f64)).collect();
    b[0] = x[0];
    b[k] = x[n - 1];
    Classes::new(b)
}

/// Equal intervals: `bᵢ = min + i·(max − min)/k`. Classes that no value falls in are kept (the
/// ranges are the point of the method); when every value is the same there is one class.
pub fn equal_interval(values: &[f64], k: usize) -> Classes {
    let x = sorted(values);
    if x.is_empty() || k == 0 {
        return Classes::default();
    }
    let (lo, hi) = (x[0], x[x.len() - 1]);
    let mut b: Vec<f64> = (0..=k)
        .map(|i| lo + (hi - lo) * i as f64 / k as f64)
        .collect();
    b[k] = hi;
    Classes::new(b)
}

/// Jenks natural breaks: the partition of the sorted values into at most `k` runs that has the
/// least sum of squared deviations from the class means, found exactly (Fisher 1958, the
/// dynamic programme of "Fisher–Jenks"; the optimal split points are monotone in the number of
/// values, so each of the `k` layers is solved by divide and conquer: O(k·m·log m) for `m`
/// distinct values, Wang & Song's Ckmeans.1d.dp). Equal values are never split (an optimal
/// partition exists that keeps them together): the programme runs on the distinct values
/// weighted by their counts, and with fewer distinct values than `k` each is its own class.
/// The bounds are the minimum, then the largest value of each class.
pub fn jenks(values: &[f64], k: usize) -> Classes {
    let x = sorted(values);
    if x.is_empty() || k == 0 {
        return Classes::default();
    }
    // Distinct values and their counts.
    let mut v: Vec<f64> = Vec::new();
    let mut w: Vec<f64> = Vec::new();
    for &a in &x {
        if v.last() == Some(&a) {
            *w.last_mut().unwrap() += 1.0;
        } else {
            v.push(a);
            w.push(1.0);
        }
    }
    let m = v.len();
    let k = k.min(m);
    if k == m {
        let mut b = vec![v[0]];
        b.extend(&v);
        return Classes::new(b);
    }
    // Prefix sums of weights, weighted values and weighted squares, centred on the median
    // for precision.
    let shift = v[m / 2];
    let mut sw = vec![0.0; m + 1];
    let mut s1 = vec![0.0; m + 1];
    let mut s2 = vec![0.0; m + 1];
    for i in 0..m {
        let d = v[i] - shift;
        sw[i + 1] = sw[i] + w[i];
        s1[i + 1] = s1[i] + w[i] * d;
        s2[i + 1] = s2[i] + w[i] * d * d;
    }
    // Sum of squared deviations of the distinct values j..=i (0-based, inclusive).
    let ssd = |j: usize, i: usize| -> f64 {
        let n = sw[i + 1] - sw[j];
        let s = s1[i + 1] - s1[j];
        (s2[i + 1] - s2[j] - s * s / n).max(0.0)
    };
    // cost[c][i]: least SSD of values 0..=i in c+1 classes; from[c][i]: first value of the
    // last class of that partition.
    let mut cost = vec![vec![0.0; m]; k];
    let mut from = vec![vec![0usize; m]; k];
    for (i, c) in cost[0].iter_mut().enumerate() {
        *c = ssd(0, i);
    }
    for c in 1..k {
        let (done, rest) = cost.split_at_mut(c);
        let prev = &done[c - 1];
        let cur = &mut rest[0];
        layer(c, m - 1, c, m - 1, prev, cur, &mut from[c], &ssd);
    }
    // Walk back from the last value.
    let mut uppers = vec![0usize; k];
    let mut i = m - 1;
    for c in (0..k).rev() {
        uppers[c] = i;
        if c > 0 {
            i = from[c][i] - 1;
        }
    }
    let mut b = vec![v[0]];
    b.extend(uppers.iter().map(|&u| v[u]));
    Classes::new(b)
}

/// One layer of the programme by divide and conquer: for each `i` in `lo..=hi`, the best first
/// index `j` (in `jlo..=jhi`, `j ≥ c`) of the last class, knowing the best `j` does not decrease
/// with `i`.
#[allow(clippy::too_many_arguments)]
fn layer(
    lo: usize,
    hi: usize,
    jlo: usize,
    jhi: usize,
    prev: &[f64],
    cur: &mut [f64],
    from: &mut [usize],
    ssd: &impl Fn(usize, usize) -> f64,
) {
    if lo > hi {
        return;
    }
    let mid = (lo + hi) / 2;
    let mut best = (f64::INFINITY, jlo);
    for j in jlo..=jhi.min(mid) {
        let c = prev[j - 1] + ssd(j, mid);
        if c < best.0 {
            best = (c, j);
        }
    }
    cur[mid] = best.0;
    from[mid] = best.1;
    if mid > lo {
        layer(lo, mid - 1, jlo, best.1, prev, cur, from, ssd);
    }
    layer(mid + 1, hi, best.1, jhi, prev, cur, from, ssd);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(c: &Classes, values: &[f64]) -> Vec<usize> {
        let mut n = vec![0; c.len()];
        for v in values {
            if let Some(i) = c.class_of(*v) {
                n[i] += 1;
            }
        }
        n
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn quantiles_type_7() {
        // 1..=10, k = 4: h = 9p.
        //   p = 0.25: h = 2.25 → x₂ + 0.25·(x₃ − x₂) = 3 + 0.25 = 3.25
        //   p = 0.50: h = 4.5  → 5 + 0.5 = 5.5
        //   p = 0.75: h = 6.75 → 7 + 0.75 = 7.75
        // Classes [1, 3.25] (1 2 3), (3.25, 5.5] (4 5), (5.5, 7.75] (6 7), (7.75, 10] (8 9 10).
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let c = quantile(&v, 4);
        assert_eq!(c.bounds, [1.0, 3.25, 5.5, 7.75, 10.0]);
        assert_eq!(counts(&c, &v), [3, 2, 2, 3]);
        // Order and missing values do not matter.
        let mut w = v.clone();
        w.reverse();
        w.push(f64::NAN);
        w.push(f64::INFINITY);
        assert_eq!(quantile(&w, 4), c);

        // [10, 20, 30, 40, 1000], k = 2: median h = 2 → 30: [10, 30] (3), (30, 1000] (2).
        let v = [40.0, 10.0, 1000.0, 30.0, 20.0];
        let c = quantile(&v, 2);
        assert_eq!(c.bounds, [10.0, 30.0, 1000.0]);
        assert_eq!(counts(&c, &v), [3, 2]);
    }

    #[test]
    fn quantile_ties() {
        // [1, 1, 1, 1, 1, 1, 5, 9], k = 4: h = 7p.
        //   p = 0.25: h = 1.75 → 1;  p = 0.5: h = 3.5 → 1;  p = 0.75: h = 5.25 → 1 + 0.25·4 = 2
        // Bounds 1, 1, 1, 2, 9: the class (1, 1] is merged away → [1, 1] (six 1s), (1, 2]
        // (none: a quantile bound that falls between values), (2, 9] (5 and 9).
        let v = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0, 9.0];
        let c = quantile(&v, 4);
        assert_eq!(c.bounds, [1.0, 1.0, 2.0, 9.0]);
        assert_eq!(counts(&c, &v), [6, 0, 2]);
        // All equal: one class holding everything.
        let c = quantile(&[7.0, 7.0, 7.0], 5);
        assert_eq!(c.bounds, [7.0, 7.0]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.class_of(7.0), Some(0));
        // A single value.
        assert_eq!(quantile(&[3.0], 3).bounds, [3.0, 3.0]);
    }

    #[test]
    fn equal_intervals() {
        // [0, 3, 4, 10, 20], k = 4: width 5 → bounds 0, 5, 10, 15, 20; classes [0, 5] (0 3 4),
        // (5, 10] (10), (10, 15] (none: kept), (15, 20] (20).
        let v = [10.0, 0.0, 4.0, 20.0, 3.0];
        let c = equal_interval(&v, 4);
        assert_eq!(c.bounds, [0.0, 5.0, 10.0, 15.0, 20.0]);
        assert_eq!(counts(&c, &v), [3, 1, 0, 1]);
        // [0.1, 0.4], k = 3: 0.1, 0.2, 0.3, 0.4 (up to rounding; the last bound is the maximum).
        let c = equal_interval(&[0.1, 0.4], 3);
        assert!(close(&c.bounds, &[0.1, 0.2, 0.3, 0.4]));
        assert_eq!(c.bounds[3], 0.4);
        assert_eq!(equal_interval(&[2.0, 2.0], 5).bounds, [2.0, 2.0]);
        // Negative values.
        let c = equal_interval(&[-10.0, 10.0], 2);
        assert_eq!(c.bounds, [-10.0, 0.0, 10.0]);
        assert_eq!(c.class_of(0.0), Some(0));
        assert_eq!(c.class_of(0.001), Some(1));
    }

    #[test]
    fn jenks_hand_computed() {
        // [0, 1, 3, 6, 10], k = 2; the four ways to split and their sums of squared deviations:
        //   {0} | {1 3 6 10}: 0 + (16 + 4 + 1 + 25) = 46
        //   {0 1} | {3 6 10}: 0.5 + (3⅓² + ⅓² + 3⅔²) = 0.5 + 24.67 = 25.17
        //   {0 1 3} | {6 10}: (1⅓² + ⅓² + 1⅔²) + (2² + 2²) = 4.67 + 8 = 12.67   ← least
        //   {0 1 3 6} | {10}: (2.5² + 1.5² + 0.5² + 3.5²) + 0 = 21
        let v = [6.0, 0.0, 10.0, 3.0, 1.0];
        let c = jenks(&v, 2);
        assert_eq!(c.bounds, [0.0, 3.0, 10.0]);
        assert_eq!(counts(&c, &v), [3, 2]);

        // Three clear groups.
        let v = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 20.0, 21.0, 22.0];
        let c = jenks(&v, 3);
        assert_eq!(c.bounds, [1.0, 3.0, 12.0, 22.0]);
        assert_eq!(counts(&c, &v), [3, 3, 3]);

        // Ties are weights: [1, 1, 1, 1, 2, 9, 10], k = 2 → {1 1 1 1 2} | {9 10} (SSD 0.8 + 0.5);
        // k = 3 → {1 1 1 1} | {2} | {9 10} (0.5), never a split inside the four 1s.
        let v = [1.0, 1.0, 1.0, 1.0, 2.0, 9.0, 10.0];
        assert_eq!(jenks(&v, 2).bounds, [1.0, 2.0, 10.0]);
        assert_eq!(jenks(&v, 3).bounds, [1.0, 1.0, 2.0, 10.0]);
        assert_eq!(counts(&jenks(&v, 3), &v), [4, 1, 2]);
    }

    #[test]
    fn jenks_few_distinct_values() {
        // Two distinct values, five classes asked: one class per value.
        let v = [5.0, 5.0, 8.0, 8.0, 8.0];
        let c = jenks(&v, 5);
        assert_eq!(c.bounds, [5.0, 5.0, 8.0]);
        assert_eq!(counts(&c, &v), [2, 3]);
        assert_eq!(jenks(&[4.0, 4.0], 3).bounds, [4.0, 4.0]);
        assert_eq!(jenks(&[4.0], 1).bounds, [4.0, 4.0]);
    }

    /// The plain O(k·m²) programme, to check the divide-and-conquer one.
    fn jenks_slow(values: &[f64], k: usize) -> f64 {
        let x = sorted(values);
        let n = x.len();
        let ssd = |j: usize, i: usize| {
            let s = &x[j..=i];
            let mean = s.iter().sum::<f64>() / s.len() as f64;
            s.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>()
        };
        let mut cost: Vec<f64> = (0..n).map(|i| ssd(0, i)).collect();
        for c in 1..k {
            let mut next = vec![f64::INFINITY; n];
            for (i, slot) in next.iter_mut().enumerate().skip(c) {
                for j in c..=i {
                    *slot = slot.min(cost[j - 1] + ssd(j, i));
                }
            }
            cost = next;
        }
        cost[n - 1]
    }

    fn total_ssd(c: &Classes, values: &[f64]) -> f64 {
        let mut groups = vec![Vec::new(); c.len()];
        for v in values {
            groups[c.class_of(*v).unwrap()].push(*v);
        }
        groups
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| {
                let mean = g.iter().sum::<f64>() / g.len() as f64;
                g.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn jenks_is_optimal() {
        // Pseudo-random data (a fixed linear congruential sequence), skewed like populations.
        let mut s: u64 = 12345;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as f64 / (1u64 << 31) as f64
        };
        for n in [7, 20, 60, 150] {
            let v: Vec<f64> = (0..n)
                .map(|_| (next() * 4.0).exp().round() * 10.0)
                .collect();
            for k in 2..=7 {
                let c = jenks(&v, k);
                let got = total_ssd(&c, &v);
                let best = jenks_slow(&v, k.min(n));
                assert!(
                    (got - best).abs() <= 1e-6 * best.max(1.0),
                    "n {n} k {k}: {got} vs {best}"
                );
            }
        }
    }

    #[test]
    fn missing_and_empty() {
        for m in [Breaks::Quantile, Breaks::EqualInterval, Breaks::Jenks] {
            let c = m.classes(&[f64::NAN, f64::NEG_INFINITY], 5);
            assert!(c.is_empty());
            assert_eq!(c.class_of(1.0), None);
            assert!(m.classes(&[], 3).is_empty());
            assert!(m.classes(&[1.0, 2.0], 0).is_empty());
            let c = m.classes(&[1.0, 2.0, 3.0], 3);
            assert_eq!(c.class_of(f64::NAN), None);
            // Outside the bounds: the end classes.
            assert_eq!(c.class_of(-5.0), Some(0));
            assert_eq!(c.class_of(50.0), Some(c.len() - 1));
        }
    }

    #[test]
    fn rounding_bounds() {
        // Quantile bounds of integers fall between them; rounded to 0 decimals the legend's
        // numbers are what classifies: [1, 3] (1 2 3), (3, 6] (4 5 6), with
        // 3.25 → 3, 5.5 → 6 (half away from zero), 7.75 → 8: (6, 8] (7 8), (8, 10] (9 10).
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let c = quantile(&v, 4).rounded(0);
        assert_eq!(c.bounds, [1.0, 3.0, 6.0, 8.0, 10.0]);
        assert_eq!(counts(&c, &v), [3, 3, 2, 2]);
        // Rounding that makes two bounds equal merges the class.
        let c = Classes::new(vec![0.0, 1.04, 1.01, 2.0]);
        assert_eq!(c.bounds, [0.0, 1.04, 2.0]);
        let c = Classes::new(vec![0.0, 1.01, 1.04, 2.0]).rounded(1);
        assert_eq!(c.bounds, [0.0, 1.0, 2.0]);
    }
}
