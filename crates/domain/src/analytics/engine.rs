//! The pivot engine: from facts (values summed over the units below each unit asked for) to
//! cells, by each indicator's aggregation rule, then derived indicators, then the layout.
//!
//! Rules, in order:
//! 1. For one indicator, unit and stored period, a value stored on the unit itself wins over
//!    the values of the units below it (a province's published figure is not added to its
//!    communes' figures).
//! 2. A fact goes into every cell whose period contains its period (months roll up into
//!    quarters and years) and whose breakdown items match its disaggregation; filter
//!    dimensions add their items up.
//! 3. A cell uses the values of one breakdown level only: of the disaggregations that match it,
//!    the ones with the fewest dimensions (a stored total wins over adding up its parts, so
//!    nothing is counted twice).
//! 4. The indicator's rule: sum; average (of the unit values); weighted average (by the weight
//!    indicator); latest (the latest period with data, summed over units); none (one stored
//!    value, not aggregated).
//! 5. Derived indicators are computed from the aggregated values of their operands — a ratio
//!    of sums, never a sum of ratios; a division by zero leaves the cell empty with a reason.

use super::request::{DimId, Request};
use super::table::{Cell, Dim, Item, PivotTable};
use crate::disagg::{Area, Disagg, Sex};
use crate::error::{FieldError, Problems};
use crate::formula::{Expr, NoValue};
use crate::indicator::Aggregation;
use crate::period::Period;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the engine needs to know of an indicator.
#[derive(Debug, Clone)]
pub struct IndicatorInfo {
    pub code: String,
    pub name: String,
    pub aggregation: Aggregation,
    pub formula: Option<Expr>,
}

/// Values of one indicator, stored period and disaggregation, summed over the stored units that
/// roll up into one requested unit. Sums are weighted by the lineage weight of units mapped
/// from the other hierarchy (1 for units of the same hierarchy).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Index into [`Input::indicators`].
    pub indicator: usize,
    /// Index into [`Input::units`].
    pub ou: usize,
    pub period: Period,
    pub disagg: Disagg,
    /// Stored on the requested unit itself (not below it).
    pub direct: bool,
    /// Σ value × lineage weight.
    pub sum: f64,
    /// Σ lineage weight (the number of unit values, counting a split unit's share).
    pub n: f64,
    /// Σ value × weight-indicator value × lineage weight (weighted averages).
    pub wsum: f64,
    /// Σ weight-indicator value × lineage weight.
    pub wden: f64,
    /// Some value came from a unit of the other hierarchy, through the lineage.
    pub mapped: bool,
    /// Some of those used default (equal) weights.
    pub estimated: bool,
    /// The breakdown dimensions of the stored values ([`dimset`]: ethnic group 1, sex 2, area
    /// 4, age 8). Equal to `disagg`'s own unless the store summed away the dimensions a pivot
    /// does not ask for; rule 3 compares these.
    pub dims: u8,
    /// How many disaggregations of the stored values this fact adds up (1 unless the store
    /// summed some away; a store may say 2 for any number above one): an indicator that does
    /// not aggregate has a value only for one.
    pub parts: u32,
}

impl Fact {
    /// A fact of one plain value (tests and small callers).
    pub fn value(indicator: usize, ou: usize, period: Period, disagg: Disagg, v: f64) -> Fact {
        let dims = dimset(&disagg);
        Fact {
            indicator,
            ou,
            period,
            disagg,
            direct: false,
            sum: v,
            n: 1.0,
            wsum: 0.0,
            wden: 0.0,
            mapped: false,
            estimated: false,
            dims,
            parts: 1,
        }
    }
}

/// Everything the engine works on.
#[derive(Debug, Clone)]
pub struct Input {
    /// The `dx` items first (`dx_count` of them, in the order asked), then the indicators
    /// their formulas need that were not asked for.
    pub indicators: Vec<IndicatorInfo>,
    pub dx_count: usize,
    /// The `ou` items, in order (code and name).
    pub units: Vec<Item>,
    /// The `pe` items, expanded.
    pub periods: Vec<Period>,
    /// Ethnic group code (2008 list) → name.
    pub ethnic_names: HashMap<String, String>,
    pub facts: Vec<Fact>,
}

/// A cell key: one item index per dimension, in [`DimId`] order (0 for filters and for
/// dimensions not asked).
pub type Key = [u32; 7];

/// Cells computed, and the items of every dimension asked (shown or filtered).
#[derive(Debug, Clone)]
pub struct Computed {
    /// Indexed by [`DimId::index`]; `None` for dimensions not asked.
    pub dims: Vec<Option<Dim>>,
    pub cells: HashMap<Key, Cell>,
    /// Indicators shown (the first `dx_count` of the input).
    pub dx_count: usize,
}

#[derive(Debug, Clone)]
enum Matcher {
    Ethnic(EthSet),
    Sex(Sex),
    Area(Area),
    Age(String),
}

#[derive(Debug, Clone)]
enum EthSet {
    Minorities,
    One(String),
}

impl Matcher {
    fn matches(&self, d: &Disagg) -> bool {
        match self {
            Matcher::Ethnic(EthSet::Minorities) => d.ethnic.as_deref().is_some_and(|e| e != KINH),
            Matcher::Ethnic(EthSet::One(c)) => d.ethnic.as_deref() == Some(c.as_str()),
            Matcher::Sex(s) => d.sex == Some(*s),
            Matcher::Area(a) => d.area == Some(*a),
            Matcher::Age(a) => d.age.as_deref() == Some(a.as_str()),
        }
    }
}

/// The most cells one pivot computes (DHIS2 caps analytics answers at 50,000 rows; this is the
/// engine's memory bound — pages and files page or stream what it computes).
pub const MAX_CELLS: usize = 2_000_000;

/// GSO 2008 code of the Kinh; every other group is an ethnic minority (DTTS).
pub const KINH: &str = "01";

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    sum: f64,
    n: f64,
    wsum: f64,
    wden: f64,
    /// Latest period seen (last month index + 1; 0: none) and the sums at that period.
    latest_end: u32,
    lsum: f64,
    facts: u32,
    mapped: bool,
    estimated: bool,
}

impl Acc {
    fn add(&mut self, f: &Fact) {
        self.sum += f.sum;
        self.n += f.n;
        self.wsum += f.wsum;
        self.wden += f.wden;
        self.facts += f.parts;
        self.mapped |= f.mapped;
        self.estimated |= f.estimated;
        let end = f.period.month_range().1 + 1;
        if end > self.latest_end {
            self.latest_end = end;
            self.lsum = f.sum;
        } else if end == self.latest_end {
            self.lsum += f.sum;
        }
    }

    fn cell(&self, rule: Aggregation) -> Cell {
        let (value, reason) = match rule {
            Aggregation::Sum => (Some(self.sum), None),
            Aggregation::Average if self.n > 0.0 => (Some(self.sum / self.n), None),
            Aggregation::Average => (None, Some("không có giá trị để tính trung bình")),
            Aggregation::WeightedAverage if self.wden != 0.0 => (Some(self.wsum / self.wden), None),
            // one value (a unit's own figure): itself, weights or not
            Aggregation::WeightedAverage if self.facts == 1 && self.n > 0.0 => {
                (Some(self.sum / self.n), None)
            }
            Aggregation::WeightedAverage => (None, Some("thiếu hoặc bằng 0 ở chỉ tiêu trọng số")),
            Aggregation::Latest => (Some(self.lsum), None),
            Aggregation::None if self.facts == 1 => (Some(self.sum), None),
            Aggregation::None => (None, Some("chỉ tiêu không cộng gộp được")),
        };
        Cell {
            value,
            mapped: self.mapped,
            estimated: self.estimated,
            reason: reason.map(str::to_string),
        }
    }
}

/// The breakdown dimensions of a disaggregation as bits: ethnic group 1, sex 2, area 4, age 8.
pub fn dimset(d: &Disagg) -> u8 {
    (d.ethnic.is_some() as u8)
        | (d.sex.is_some() as u8) << 1
        | (d.area.is_some() as u8) << 2
        | (d.age.is_some() as u8) << 3
}

fn age_order(a: &str) -> (u32, String) {
    let lo = a
        .split(['-', '+'])
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(u32::MAX);
    (lo, a.to_string())
}

/// Items of one breakdown dimension, with what each matches.
fn breakdown_items(
    id: DimId,
    asked: &[String],
    facts: &[Fact],
    ethnic_names: &HashMap<String, String>,
    field: &str,
) -> Result<Vec<(Item, Matcher)>, FieldError> {
    let item = |code: &str, name: String| Item {
        code: code.to_string(),
        name,
    };
    let mut out = vec![];
    let asked: Vec<String> = if asked.is_empty() {
        // every item that has data, in a stable order
        let mut found: BTreeSet<(u32, String)> = BTreeSet::new();
        for f in facts {
            let d = &f.disagg;
            let v = match id {
                DimId::Eth => d.ethnic.clone().map(|e| (0, e)),
                DimId::Sex => d
                    .sex
                    .map(|s| (s as u32, if s == Sex::Male { "M" } else { "F" }.to_string())),
                DimId::Area => d.area.map(|a| {
                    (
                        a as u32,
                        if a == Area::Urban { "U" } else { "R" }.to_string(),
                    )
                }),
                DimId::Age => d.age.as_deref().map(age_order),
                _ => None,
            };
            if let Some(v) = v {
                found.insert(v);
            }
        }
        found.into_iter().map(|(_, c)| c).collect()
    } else {
        asked.to_vec()
    };
    for code in &asked {
        let c = code.trim();
        let up = c.to_ascii_uppercase();
        let (it, m) = match id {
            DimId::Eth if up == "DTTS" => (
                item("DTTS", "Dân tộc thiểu số".into()),
                Matcher::Ethnic(EthSet::Minorities),
            ),
            DimId::Eth if up == "KINH" => (
                item("KINH", "Kinh".into()),
                Matcher::Ethnic(EthSet::One(KINH.into())),
            ),
            DimId::Eth => {
                let c = up.strip_prefix('E').unwrap_or(&up);
                let name = ethnic_names.get(c).ok_or_else(|| {
                    FieldError::new(
                        field,
                        "unknown ethnic group: expected a GSO 2008 code 01–54, DTTS (all minorities) or KINH",
                    )
                    .value(code)
                })?;
                (
                    item(c, name.clone()),
                    Matcher::Ethnic(EthSet::One(c.to_string())),
                )
            }
            DimId::Sex if up == "M" => (item("M", "Nam".into()), Matcher::Sex(Sex::Male)),
            DimId::Sex if up == "F" => (item("F", "Nữ".into()), Matcher::Sex(Sex::Female)),
            DimId::Area if up == "U" => (item("U", "Thành thị".into()), Matcher::Area(Area::Urban)),
            DimId::Area if up == "R" => (item("R", "Nông thôn".into()), Matcher::Area(Area::Rural)),
            DimId::Age if format!("A{c}").parse::<Disagg>().is_ok() => {
                (item(c, format!("{c} tuổi")), Matcher::Age(c.to_string()))
            }
            _ => {
                let expected = match id {
                    DimId::Sex => "M or F",
                    DimId::Area => "U (urban) or R (rural)",
                    _ => "an age group such as 15-19 or 60+",
                };
                return Err(
                    FieldError::new(field, format!("unknown item: expected {expected}"))
                        .value(code),
                );
            }
        };
        out.push((it, m));
    }
    Ok(out)
}

/// Compute every cell a request asks for.
pub fn compute(req: &Request, input: &Input) -> Result<Computed, Problems> {
    let mut problems = Problems::default();
    let mut dims: Vec<Option<Dim>> = vec![None; 7];
    let mk = |id: DimId, items: Vec<Item>| Dim {
        id: id.as_str().into(),
        name_vi: id.name_vi().into(),
        name_en: id.name_en().into(),
        items,
    };
    dims[DimId::Dx.index()] = Some(mk(
        DimId::Dx,
        input.indicators[..input.dx_count]
            .iter()
            .map(|i| Item {
                code: i.code.clone(),
                name: i.name.clone(),
            })
            .collect(),
    ));
    dims[DimId::Ou.index()] = Some(mk(DimId::Ou, input.units.clone()));
    dims[DimId::Pe.index()] = Some(mk(
        DimId::Pe,
        input
            .periods
            .iter()
            .map(|p| Item {
                code: p.to_string(),
                name: p.label_vi(),
            })
            .collect(),
    ));
    // breakdowns asked: (dimension, matchers, is filter)
    let mut breakdowns: Vec<(DimId, Vec<Matcher>, bool)> = vec![];
    for (i, spec) in req.dims.iter().chain(&req.filters).enumerate() {
        if spec.id.breakdown().is_none() {
            continue;
        }
        let field = if i < req.dims.len() {
            format!("dimension[{i}]")
        } else {
            format!("filter[{}]", i - req.dims.len())
        };
        match breakdown_items(
            spec.id,
            &spec.items,
            &input.facts,
            &input.ethnic_names,
            &field,
        ) {
            Ok(items) => {
                let (items, matchers): (Vec<Item>, Vec<Matcher>) = items.into_iter().unzip();
                dims[spec.id.index()] = Some(mk(spec.id, items));
                breakdowns.push((spec.id, matchers, req.is_filter(spec.id)));
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let counts = own_figures_first(&input.facts);
    let pe_filter = req.is_filter(DimId::Pe);
    let ou_filter = req.is_filter(DimId::Ou);
    let mut acc: HashMap<(Key, u8), Acc> = HashMap::new();
    let mut lists: Vec<Vec<u32>> = vec![vec![]; 7];
    for (f, _) in input.facts.iter().zip(&counts).filter(|(_, c)| **c) {
        // reused lists: no allocation per fact
        let one = |l: &mut Vec<u32>, v: u32| {
            l.clear();
            l.push(v);
        };
        one(&mut lists[DimId::Dx.index()], f.indicator as u32);
        one(
            &mut lists[DimId::Ou.index()],
            if ou_filter { 0 } else { f.ou as u32 },
        );
        let pe = &mut lists[DimId::Pe.index()];
        pe.clear();
        for (j, p) in input.periods.iter().enumerate() {
            if p.contains(&f.period) {
                pe.push(if pe_filter { 0 } else { j as u32 });
                if pe_filter {
                    break;
                }
            }
        }
        for d in [DimId::Eth, DimId::Sex, DimId::Area, DimId::Age] {
            one(&mut lists[d.index()], 0);
        }
        let mut ok = !lists[DimId::Pe.index()].is_empty();
        for (id, matchers, filter) in &breakdowns {
            let l = &mut lists[id.index()];
            l.clear();
            for (j, m) in matchers.iter().enumerate() {
                if m.matches(&f.disagg) {
                    l.push(if *filter { 0 } else { j as u32 });
                    if *filter {
                        break;
                    }
                }
            }
            ok &= !l.is_empty();
        }
        if !ok {
            continue;
        }
        let ds = f.dims;
        // every combination of the matching items
        let mut key: Key = [0; 7];
        let mut idx = [0usize; 7];
        'combos: loop {
            for d in 0..7 {
                key[d] = lists[d][idx[d]];
            }
            acc.entry((key, ds)).or_default().add(f);
            for d in (0..7).rev() {
                idx[d] += 1;
                if idx[d] < lists[d].len() {
                    continue 'combos;
                }
                idx[d] = 0;
            }
            break;
        }
    }

    if acc.len() > MAX_CELLS {
        let mut p = Problems::default();
        p.push(FieldError::new(
            "dimension",
            format!(
                "the pivot would have more than {MAX_CELLS} cells: choose fewer indicators, units, periods or breakdowns (or page through /api/pivot)"
            ),
        ));
        return Err(p);
    }
    // Rule 3: per cell, the breakdown level with the fewest dimensions.
    let mut best: HashMap<Key, (u8, Acc)> = HashMap::new();
    for ((key, ds), a) in acc {
        let e = best.entry(key).or_insert((ds, a));
        if (ds.count_ones(), ds) < (e.0.count_ones(), e.0) {
            *e = (ds, a);
        }
    }
    let mut cells: HashMap<Key, Cell> = best
        .into_iter()
        .map(|(k, (_, a))| (k, a.cell(input.indicators[k[0] as usize].aggregation)))
        .collect();

    // Rule 5: derived indicators after aggregation, in dependency order.
    let index: HashMap<&str, usize> = input
        .indicators
        .iter()
        .enumerate()
        .map(|(i, x)| (x.code.as_str(), i))
        .collect();
    let mut pending: Vec<usize> = (0..input.indicators.len())
        .filter(|&i| input.indicators[i].formula.is_some())
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut still = vec![];
        for &k in &pending {
            let expr = input.indicators[k].formula.as_ref().expect("derived");
            let refs: Vec<usize> = expr
                .references()
                .iter()
                .filter_map(|c| index.get(c.as_str()).copied())
                .collect();
            if refs.iter().any(|r| pending.contains(r) && *r != k) {
                still.push(k);
                continue;
            }
            // every place an operand has a cell
            let mut rests: BTreeSet<Key> = BTreeSet::new();
            for key in cells.keys() {
                if refs.contains(&(key[0] as usize)) {
                    let mut r = *key;
                    r[0] = k as u32;
                    rests.insert(r);
                }
            }
            for r in rests {
                let res = expr.eval(&|code: &str| {
                    let mut key = r;
                    key[0] = *index.get(code)? as u32;
                    cells.get(&key)?.value
                });
                let (mut mapped, mut estimated) = (false, false);
                for &i in &refs {
                    let mut key = r;
                    key[0] = i as u32;
                    if let Some(c) = cells.get(&key) {
                        mapped |= c.mapped;
                        estimated |= c.estimated;
                    }
                }
                let cell = match res {
                    Ok(v) if v.is_finite() => Cell {
                        value: Some(v),
                        mapped,
                        estimated,
                        reason: None,
                    },
                    Ok(_) => Cell {
                        reason: Some("kết quả không xác định".into()),
                        ..Cell::default()
                    },
                    Err(NoValue::DivisionByZero) => Cell {
                        reason: Some("chia cho 0".into()),
                        mapped,
                        estimated,
                        ..Cell::default()
                    },
                    Err(NoValue::Missing(c)) => Cell {
                        reason: Some(format!("thiếu số liệu {c}")),
                        mapped,
                        estimated,
                        ..Cell::default()
                    },
                };
                cells.insert(r, cell);
            }
        }
        if still.len() == before {
            // a cycle: leave them empty
            break;
        }
        pending = still;
    }
    cells.retain(|k, _| (k[0] as usize) < input.dx_count);
    Ok(Computed {
        dims,
        cells,
        dx_count: input.dx_count,
    })
}

/// Rule 1: which facts count — for one indicator, unit and stored period, the value stored on
/// the unit itself when there is one, else those of the units below it.
fn own_figures_first(facts: &[Fact]) -> Vec<bool> {
    let mut has_direct: HashMap<(usize, usize, Period), bool> = HashMap::new();
    for f in facts {
        *has_direct.entry((f.indicator, f.ou, f.period)).or_default() |= f.direct;
    }
    facts
        .iter()
        .map(|f| f.direct == has_direct[&(f.indicator, f.ou, f.period)])
        .collect()
}

/// Add the facts of several units up into one (the whole country from its provinces): each
/// unit's own figure first (rule 1), then one fact per indicator, period and disaggregation.
pub fn fold_into(facts: Vec<Fact>, ou: usize) -> Vec<Fact> {
    let counts = own_figures_first(&facts);
    let mut out: BTreeMap<(usize, Period, String, u8), Fact> = BTreeMap::new();
    for (f, _) in facts.into_iter().zip(counts).filter(|(_, c)| *c) {
        let key = (f.indicator, f.period, f.disagg.code(), f.dims);
        match out.get_mut(&key) {
            Some(g) => {
                // the same disaggregation in another unit
                g.parts = g.parts.max(f.parts);
                g.sum += f.sum;
                g.n += f.n;
                g.wsum += f.wsum;
                g.wden += f.wden;
                g.mapped |= f.mapped;
                g.estimated |= f.estimated;
            }
            None => {
                out.insert(
                    key,
                    Fact {
                        ou,
                        direct: false,
                        ..f
                    },
                );
            }
        }
    }
    out.into_values().collect()
}

impl Computed {
    /// Cells with a value, ordered by key (the DHIS2 `rows`).
    pub fn sorted(&self) -> BTreeMap<Key, &Cell> {
        self.cells.iter().map(|(k, c)| (*k, c)).collect()
    }
    pub fn dim(&self, id: DimId) -> Option<&Dim> {
        self.dims[id.index()].as_ref()
    }
}

/// Lay the cells out in rows and columns.
pub fn layout(req: &Request, comp: &Computed, title: String, source: String) -> PivotTable {
    let dim = |id: DimId| comp.dims[id.index()].clone().expect("asked dimension");
    let combos = |ids: &[DimId]| -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![vec![]];
        for id in ids {
            let n = comp.dims[id.index()].as_ref().map_or(0, |d| d.items.len());
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    (0..n).map(move |i| {
                        let mut p = prefix.clone();
                        p.push(i);
                        p
                    })
                })
                .collect();
        }
        out
    };
    let mut rows = combos(&req.rows);
    let mut cols = combos(&req.columns);
    let key_of = |r: &[usize], c: &[usize]| -> Key {
        let mut k: Key = [0; 7];
        for (id, &i) in req.rows.iter().zip(r) {
            k[id.index()] = i as u32;
        }
        for (id, &i) in req.columns.iter().zip(c) {
            k[id.index()] = i as u32;
        }
        k
    };
    let filled = |c: &Cell| c.value.is_some() || c.reason.is_some();
    if req.skip_empty {
        rows.retain(|r| {
            cols.iter()
                .any(|c| comp.cells.get(&key_of(r, c)).is_some_and(filled))
        });
        cols.retain(|c| {
            rows.iter()
                .any(|r| comp.cells.get(&key_of(r, c)).is_some_and(filled))
        });
    }
    let cells = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| comp.cells.get(&key_of(r, c)).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    PivotTable {
        title,
        source,
        row_dims: req.rows.iter().map(|&d| dim(d)).collect(),
        col_dims: req.columns.iter().map(|&d| dim(d)).collect(),
        filters: req.filters.iter().map(|f| dim(f.id)).collect(),
        rows,
        cols,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }
    fn d(s: &str) -> Disagg {
        s.parse().unwrap()
    }
    fn ind(code: &str, aggregation: Aggregation, formula: Option<&str>) -> IndicatorInfo {
        IndicatorInfo {
            code: code.into(),
            name: code.into(),
            aggregation,
            formula: formula.map(|f| Expr::parse(f).unwrap()),
        }
    }
    fn input(
        indicators: Vec<IndicatorInfo>,
        dx: usize,
        periods: &[&str],
        facts: Vec<Fact>,
    ) -> Input {
        Input {
            indicators,
            dx_count: dx,
            units: vec![
                Item {
                    code: "A".into(),
                    name: "Xã A".into(),
                },
                Item {
                    code: "B".into(),
                    name: "Xã B".into(),
                },
            ],
            periods: periods.iter().map(|s| p(s)).collect(),
            ethnic_names: [("01", "Kinh"), ("02", "Tày"), ("10", "Dao")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            facts,
        }
    }
    fn req(dims: &[&str], filters: &[&str]) -> Request {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Request::parse(&s(dims), &s(filters), None, None, None).unwrap()
    }
    fn value(c: &Computed, dx: u32, ou: u32, pe: u32, eth: u32) -> Option<f64> {
        c.cells
            .get(&[dx, ou, pe, eth, 0, 0, 0])
            .and_then(|c| c.value)
    }

    #[test]
    fn months_roll_up_into_quarters_and_years_by_rule() {
        let facts = vec![
            Fact::value(0, 0, p("202401"), d("default"), 10.0),
            Fact::value(0, 0, p("202402"), d("default"), 20.0),
            Fact::value(0, 0, p("202405"), d("default"), 30.0),
            Fact::value(1, 0, p("202401"), d("default"), 10.0),
            Fact::value(1, 0, p("202402"), d("default"), 20.0),
            Fact::value(1, 0, p("202405"), d("default"), 30.0),
            Fact::value(2, 0, p("202401"), d("default"), 10.0),
            Fact::value(2, 0, p("202402"), d("default"), 20.0),
            Fact::value(2, 0, p("202405"), d("default"), 30.0),
        ];
        let inds = vec![
            ind("S", Aggregation::Sum, None),
            ind("AV", Aggregation::Average, None),
            ind("L", Aggregation::Latest, None),
        ];
        let i = input(inds, 3, &["2024Q1", "2024Q2", "2024"], facts);
        let c = compute(
            &req(&["dx:S;AV;L", "ou:A", "pe:2024Q1;2024Q2;2024"], &[]),
            &i,
        )
        .unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(30.0));
        assert_eq!(value(&c, 0, 0, 2, 0), Some(60.0));
        assert_eq!(value(&c, 1, 0, 0, 0), Some(15.0));
        assert_eq!(value(&c, 1, 0, 2, 0), Some(20.0));
        assert_eq!(value(&c, 2, 0, 0, 0), Some(20.0));
        assert_eq!(value(&c, 2, 0, 2, 0), Some(30.0));
        assert_eq!(value(&c, 2, 0, 1, 0), Some(30.0));
    }

    #[test]
    fn derived_is_a_ratio_of_sums_and_division_by_zero_has_a_reason() {
        // rate = poor / households * 100 per unit: A 10/100, B 90/100; province rate 50 %, not
        // the sum (100 %) nor the mean of rates ((10 + 90) / 2 happens to be 50: use unequal)
        let facts = vec![
            Fact::value(1, 0, p("2024"), d("default"), 10.0),
            Fact::value(2, 0, p("2024"), d("default"), 100.0),
            Fact::value(1, 0, p("2024"), d("default"), 90.0),
            Fact::value(2, 0, p("2024"), d("default"), 300.0),
            Fact::value(1, 1, p("2024"), d("default"), 5.0),
            Fact::value(2, 1, p("2024"), d("default"), 0.0),
        ];
        let inds = vec![
            ind("RATE", Aggregation::None, Some("#{POOR} / #{HH} * 100")),
            ind("POOR", Aggregation::Sum, None),
            ind("HH", Aggregation::Sum, None),
        ];
        let i = input(inds, 1, &["2024"], facts);
        let c = compute(&req(&["dx:RATE", "ou:A;B", "pe:2024"], &[]), &i).unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(25.0));
        let b = &c.cells[&[0, 1, 0, 0, 0, 0, 0]];
        assert_eq!(b.value, None);
        assert_eq!(b.reason.as_deref(), Some("chia cho 0"));
        // helper indicators are not shown
        assert!(c.cells.keys().all(|k| k[0] == 0));
    }

    #[test]
    fn weighted_average_uses_the_weight_sums() {
        let mut f1 = Fact::value(0, 0, p("2024"), d("default"), 0.0);
        f1.sum = 80.0 + 20.0;
        f1.n = 2.0;
        f1.wsum = 80.0 * 1000.0 + 20.0 * 3000.0;
        f1.wden = 4000.0;
        let i = input(
            vec![ind("W", Aggregation::WeightedAverage, None)],
            1,
            &["2024"],
            vec![f1],
        );
        let c = compute(&req(&["dx:W", "ou:A", "pe:2024"], &[]), &i).unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(35.0));
    }

    #[test]
    fn a_value_on_the_unit_itself_wins_over_those_below() {
        let mut own = Fact::value(0, 0, p("2019"), d("default"), 162_531.0);
        own.direct = true;
        let facts = vec![
            own,
            Fact::value(0, 0, p("2019"), d("default"), 150_000.0),
            Fact::value(0, 0, p("2024"), d("default"), 170_000.0),
        ];
        let i = input(
            vec![ind("P", Aggregation::Sum, None)],
            1,
            &["2019", "2024"],
            facts,
        );
        let c = compute(&req(&["dx:P", "ou:A", "pe:2019;2024"], &[]), &i).unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(162_531.0));
        assert_eq!(value(&c, 0, 0, 1, 0), Some(170_000.0));
    }

    #[test]
    fn breakdowns_group_minorities_and_never_count_twice() {
        let facts = vec![
            Fact::value(0, 0, p("2024"), d("default"), 1000.0),
            Fact::value(0, 0, p("2024"), d("E01.M"), 100.0),
            Fact::value(0, 0, p("2024"), d("E01.F"), 110.0),
            Fact::value(0, 0, p("2024"), d("E02.M"), 300.0),
            Fact::value(0, 0, p("2024"), d("E02.F"), 310.0),
            Fact::value(0, 0, p("2024"), d("E10.F"), 50.0),
        ];
        let i = input(vec![ind("P", Aggregation::Sum, None)], 1, &["2024"], facts);
        // total: the stored total, not the sum of the parts
        let c = compute(&req(&["dx:P", "ou:A", "pe:2024"], &[]), &i).unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(1000.0));
        // DTTS / Kinh / one group
        let c = compute(
            &req(&["dx:P", "ou:A", "pe:2024", "eth:DTTS;KINH;02"], &[]),
            &i,
        )
        .unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(660.0));
        assert_eq!(value(&c, 0, 0, 0, 1), Some(210.0));
        assert_eq!(value(&c, 0, 0, 0, 2), Some(610.0));
        // every group with data, in code order
        let c = compute(&req(&["dx:P", "ou:A", "pe:2024", "eth"], &[]), &i).unwrap();
        let codes: Vec<&str> = c
            .dim(DimId::Eth)
            .unwrap()
            .items
            .iter()
            .map(|i| i.code.as_str())
            .collect();
        assert_eq!(codes, ["01", "02", "10"]);
        // filter: women of minorities
        let c = compute(
            &req(&["dx:P", "ou:A", "pe:2024"], &["eth:DTTS", "sex:F"]),
            &i,
        )
        .unwrap();
        assert_eq!(value(&c, 0, 0, 0, 0), Some(360.0));
        // unknown group
        let e = compute(&req(&["dx:P", "ou:A", "pe:2024", "eth:99"], &[]), &i).unwrap_err();
        assert_eq!(e.0[0].field, "dimension[3]");
    }

    #[test]
    fn layout_puts_periods_in_columns_and_drops_empty_rows() {
        let facts = vec![
            Fact::value(0, 0, p("2023"), d("default"), 1.0),
            Fact::value(0, 0, p("2024"), d("default"), 2.0),
        ];
        let i = input(
            vec![ind("P", Aggregation::Sum, None)],
            1,
            &["2023", "2024"],
            facts,
        );
        let r = req(&["dx:P", "ou:A;B", "pe:2023;2024"], &[]);
        let c = compute(&r, &i).unwrap();
        let t = layout(&r, &c, "t".into(), "s".into());
        assert_eq!(t.col_dims[0].id, "pe");
        assert_eq!(t.rows.len(), 1, "unit B has no data");
        assert_eq!(t.row_label(0, 1).code, "A");
        assert_eq!(
            t.cells[0].iter().map(|c| c.value).collect::<Vec<_>>(),
            [Some(1.0), Some(2.0)]
        );
        assert_eq!(t.col_label(1, 0).name, "Năm 2024");
    }

    #[test]
    fn requests_are_checked() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let e = Request::parse(&s(&["dx:A", "xx:1"]), &[], None, None, None).unwrap_err();
        assert_eq!(e.0[0].field, "dimension[1]");
        let e = Request::parse(&s(&["ou:22"]), &[], None, None, None).unwrap_err();
        assert!(e.0[0].message.contains("dx"), "{e:?}");
        let e =
            Request::parse(&s(&["dx:A", "pe:2024", "pe:2025"]), &[], None, None, None).unwrap_err();
        assert!(e.0[0].message.contains("twice"));
        let e = Request::parse(&s(&["dx:A", "pe:2024"]), &[], Some("ou"), None, None).unwrap_err();
        assert_eq!(e.0[0].field, "rows");
        let r = Request::parse(
            &s(&["dx:A", "pe:2024", "ou:22"]),
            &[],
            Some("ou"),
            None,
            Some("2024"),
        )
        .unwrap();
        assert_eq!(r.columns, [DimId::Dx, DimId::Pe]);
        assert_eq!(r.hierarchy, crate::admin::HierarchyVersion::V2024);
    }

    #[test]
    fn relative_periods() {
        let today = p("202611");
        let f = |s: &str| {
            super::super::request::expand_periods(&[s.to_string()], today, "pe")
                .unwrap()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(f("LAST_5_YEARS"), "2021,2022,2023,2024,2025");
        assert_eq!(f("THIS_YEAR"), "2026");
        assert_eq!(f("LAST_4_QUARTERS"), "2025Q4,2026Q1,2026Q2,2026Q3");
        assert_eq!(f("THIS_QUARTER"), "2026Q4");
        assert_eq!(f("LAST_MONTH"), "202610");
        assert_eq!(f("QUARTERS_LAST_YEAR"), "2025Q1,2025Q2,2025Q3,2025Q4");
        assert!(
            super::super::request::expand_periods(&["LAST_9_WEEKS".into()], today, "pe").is_err()
        );
    }
}
