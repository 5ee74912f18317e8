//! What a pivot asks for, in DHIS2 analytics notation: `dimension=dx:IND1;IND2`,
//! `dimension=ou:22;LEVEL-2`, `dimension=pe:2020;LAST_5_YEARS`, `filter=eth:DTTS`, plus the
//! layout (which dimensions go in rows and columns).

use crate::admin::HierarchyVersion;
use crate::disagg::Dimension;
use crate::error::{FieldError, Problems};
use crate::period::{Period, PeriodType};

/// The dimensions a pivot can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DimId {
    /// Indicators (stored and derived).
    Dx,
    /// Administrative units.
    Ou,
    /// Periods.
    Pe,
    /// Ethnic groups, or groups of them (`DTTS`, `KINH`).
    Eth,
    Sex,
    /// Urban / rural.
    Area,
    /// Age groups.
    Age,
}

impl DimId {
    pub const ALL: [DimId; 7] = [
        DimId::Dx,
        DimId::Ou,
        DimId::Pe,
        DimId::Eth,
        DimId::Sex,
        DimId::Area,
        DimId::Age,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DimId::Dx => "dx",
            DimId::Ou => "ou",
            DimId::Pe => "pe",
            DimId::Eth => "eth",
            DimId::Sex => "sex",
            DimId::Area => "area",
            DimId::Age => "age",
        }
    }
    pub fn parse(s: &str) -> Option<DimId> {
        DimId::ALL.into_iter().find(|d| d.as_str() == s)
    }
    pub fn name_vi(self) -> &'static str {
        match self {
            DimId::Dx => "Chỉ tiêu",
            DimId::Ou => "Đơn vị hành chính",
            DimId::Pe => "Kỳ",
            DimId::Eth => "Dân tộc",
            DimId::Sex => "Giới tính",
            DimId::Area => "Thành thị/nông thôn",
            DimId::Age => "Nhóm tuổi",
        }
    }
    pub fn name_en(self) -> &'static str {
        match self {
            DimId::Dx => "Indicator",
            DimId::Ou => "Administrative unit",
            DimId::Pe => "Period",
            DimId::Eth => "Ethnic group",
            DimId::Sex => "Sex",
            DimId::Area => "Urban/rural",
            DimId::Age => "Age group",
        }
    }
    /// The breakdown (disaggregation dimension) this pivot dimension groups by.
    pub fn breakdown(self) -> Option<Dimension> {
        match self {
            DimId::Eth => Some(Dimension::Ethnic),
            DimId::Sex => Some(Dimension::Sex),
            DimId::Area => Some(Dimension::Area),
            DimId::Age => Some(Dimension::Age),
            _ => None,
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One dimension as asked: its items as written (empty: every item that has data).
#[derive(Debug, Clone, PartialEq)]
pub struct DimSpec {
    pub id: DimId,
    pub items: Vec<String>,
}

/// Parse `dx:A;B`, `eth` (all items), `pe:2024;LAST_5_YEARS`. `field` names the parameter in
/// errors (`dimension[2]`, `filter[0]`).
pub fn parse_dimension(s: &str, field: &str) -> Result<DimSpec, FieldError> {
    let s = crate::text::clean(s);
    let (id, items) = match s.split_once(':') {
        Some((id, items)) => (id.trim(), Some(items)),
        None => (s.trim(), None),
    };
    let dim = DimId::parse(id).ok_or_else(|| {
        FieldError::new(
            field,
            format!("unknown dimension {id:?}: expected dx, ou, pe, eth, sex, area or age"),
        )
        .value(&s)
    })?;
    let mut out: Vec<String> = vec![];
    if let Some(items) = items {
        for it in items.split(';').map(str::trim) {
            if it.is_empty() {
                return Err(FieldError::new(field, "an empty item between ';'").value(&s));
            }
            if it.chars().count() > 60 {
                return Err(FieldError::new(field, "an item longer than 60 characters").value(it));
            }
            if !out.iter().any(|o| o == it) {
                out.push(it.to_string());
            }
        }
        if out.len() > 5000 {
            return Err(FieldError::new(field, "more than 5,000 items").value(id));
        }
    }
    if items.is_none() && matches!(dim, DimId::Dx | DimId::Pe) {
        return Err(FieldError::new(
            field,
            format!(
                "dimension {id} needs its items, e.g. {id}:{}",
                if dim == DimId::Dx { "0101" } else { "2024" }
            ),
        ));
    }
    Ok(DimSpec {
        id: dim,
        items: out,
    })
}

/// Expand fixed and relative periods (DHIS2 names: `THIS_YEAR`, `LAST_YEAR`, `LAST_5_YEARS`,
/// `LAST_10_YEARS`, `THIS_QUARTER`, `LAST_QUARTER`, `LAST_4_QUARTERS`, `QUARTERS_THIS_YEAR`,
/// `QUARTERS_LAST_YEAR`, `THIS_MONTH`, `LAST_MONTH`, `LAST_3_MONTHS`, `LAST_12_MONTHS`,
/// `MONTHS_THIS_YEAR`, `THIS_SIX_MONTH`, `LAST_SIX_MONTH`) relative to `today` (a period holding
/// the current month). Order kept, duplicates dropped.
pub fn expand_periods(
    items: &[String],
    today: Period,
    field: &str,
) -> Result<Vec<Period>, FieldError> {
    let month = today.enclosing(PeriodType::Monthly).unwrap_or(today);
    let month = Period::month(month.year_number(), month.first_month()).unwrap_or(today);
    let of = |k: PeriodType| month.enclosing(k).unwrap_or(month);
    let last = |k: PeriodType, n: i32, include_this: bool| -> Vec<Period> {
        let end = if include_this {
            of(k)
        } else {
            of(k).shift(-1).unwrap_or(of(k))
        };
        (0..n).rev().filter_map(|i| end.shift(-i)).collect()
    };
    let mut out: Vec<Period> = vec![];
    for it in items {
        let ps: Vec<Period> = match it.to_ascii_uppercase().as_str() {
            "THIS_YEAR" => vec![of(PeriodType::Yearly)],
            "LAST_YEAR" => last(PeriodType::Yearly, 1, false),
            "LAST_5_YEARS" => last(PeriodType::Yearly, 5, false),
            "LAST_10_YEARS" => last(PeriodType::Yearly, 10, false),
            "THIS_SIX_MONTH" => vec![of(PeriodType::SixMonthly)],
            "LAST_SIX_MONTH" => last(PeriodType::SixMonthly, 1, false),
            "THIS_QUARTER" => vec![of(PeriodType::Quarterly)],
            "LAST_QUARTER" => last(PeriodType::Quarterly, 1, false),
            "LAST_4_QUARTERS" => last(PeriodType::Quarterly, 4, false),
            "QUARTERS_THIS_YEAR" => of(PeriodType::Yearly).split(PeriodType::Quarterly),
            "QUARTERS_LAST_YEAR" => last(PeriodType::Yearly, 1, false)
                .first()
                .map(|y| y.split(PeriodType::Quarterly))
                .unwrap_or_default(),
            "THIS_MONTH" => vec![month],
            "LAST_MONTH" => last(PeriodType::Monthly, 1, false),
            "LAST_3_MONTHS" => last(PeriodType::Monthly, 3, false),
            "LAST_12_MONTHS" => last(PeriodType::Monthly, 12, false),
            "MONTHS_THIS_YEAR" => of(PeriodType::Yearly).split(PeriodType::Monthly),
            _ => vec![
                it.parse::<Period>()
                    .map_err(|e| FieldError::new(field, e.to_string()).value(it))?,
            ],
        };
        for p in ps {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// A whole pivot request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Dimensions shown (in rows or columns), in the order asked.
    pub dims: Vec<DimSpec>,
    /// Dimensions filtered on: their items are added up into one figure.
    pub filters: Vec<DimSpec>,
    pub rows: Vec<DimId>,
    pub columns: Vec<DimId>,
    /// Which hierarchy unit codes and levels are read in (default: the current one).
    pub hierarchy: HierarchyVersion,
    /// Leave out rows and columns with no figure at all.
    pub skip_empty: bool,
}

impl Request {
    /// From the query parameters of `/api/analytics`: every `dimension=` and `filter=` value, and
    /// optional `rows=ou;eth` / `columns=pe` layouts and `hierarchy=2024|2025`.
    pub fn parse(
        dimensions: &[String],
        filters: &[String],
        rows: Option<&str>,
        columns: Option<&str>,
        hierarchy: Option<&str>,
    ) -> Result<Request, Problems> {
        let mut problems = Problems::default();
        let mut dims = vec![];
        let mut fils = vec![];
        let mut seen: Vec<DimId> = vec![];
        for (list, out, name) in [
            (dimensions, &mut dims, "dimension"),
            (filters, &mut fils, "filter"),
        ] {
            for (i, s) in list.iter().enumerate() {
                let field = format!("{name}[{i}]");
                match parse_dimension(s, &field) {
                    Ok(d) if seen.contains(&d.id) => problems.push(
                        FieldError::new(
                            field,
                            format!("dimension {} is given twice", d.id.as_str()),
                        )
                        .value(s),
                    ),
                    Ok(d) => {
                        seen.push(d.id);
                        out.push(d);
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
        for (id, example) in [(DimId::Dx, "dx:0101"), (DimId::Pe, "pe:2024")] {
            if !seen.contains(&id) && problems.is_empty() {
                problems.push(FieldError::new(
                    "dimension",
                    format!(
                        "a pivot needs the {} dimension, e.g. dimension={example}",
                        id.as_str()
                    ),
                ));
            }
        }
        if let Some(f) = fils
            .iter()
            .find(|f| f.id == DimId::Dx && f.items.len() != 1)
        {
            problems.push(
                FieldError::new("filter", "dx as a filter takes exactly one indicator")
                    .value(f.items.join(";")),
            );
        }
        let hierarchy = match hierarchy.map(str::trim).filter(|s| !s.is_empty()) {
            Some(h) => h.parse().unwrap_or_else(|e: String| {
                problems.push(FieldError::new("hierarchy", e).value(h));
                HierarchyVersion::CURRENT
            }),
            None => HierarchyVersion::CURRENT,
        };
        let shown: Vec<DimId> = dims.iter().map(|d| d.id).collect();
        let mut layout = |s: Option<&str>, field: &str| -> Option<Vec<DimId>> {
            let s = s.map(str::trim).filter(|s| !s.is_empty())?;
            let mut out = vec![];
            for part in s.split(';').map(str::trim) {
                match DimId::parse(part) {
                    Some(d) if shown.contains(&d) && !out.contains(&d) => out.push(d),
                    _ => problems.push(
                        FieldError::new(
                            field,
                            "each item must be a dimension given with dimension=, once",
                        )
                        .value(part),
                    ),
                }
            }
            Some(out)
        };
        let rows_asked = layout(rows, "rows");
        let cols_asked = layout(columns, "columns");
        if !problems.is_empty() {
            return Err(problems);
        }
        let (rows, columns) = match (rows_asked, cols_asked) {
            (Some(r), Some(c)) => (r, c),
            (Some(r), None) => {
                let c = shown.iter().copied().filter(|d| !r.contains(d)).collect();
                (r, c)
            }
            (None, Some(c)) => {
                let r = shown.iter().copied().filter(|d| !c.contains(d)).collect();
                (r, c)
            }
            (None, None) => {
                let c: Vec<DimId> = if shown.contains(&DimId::Pe) && shown.len() > 1 {
                    vec![DimId::Pe]
                } else {
                    vec![]
                };
                let r = shown.iter().copied().filter(|d| !c.contains(d)).collect();
                (r, c)
            }
        };
        // a shown dimension placed nowhere goes first in the rows
        let mut rows = rows;
        let missing: Vec<DimId> = shown
            .iter()
            .copied()
            .filter(|d| !rows.contains(d) && !columns.contains(d))
            .collect();
        rows.splice(0..0, missing);
        if let Some(d) = rows.iter().find(|d| columns.contains(d)) {
            let mut p = Problems::default();
            p.push(
                FieldError::new(
                    "columns",
                    "a dimension goes in rows or in columns, not both",
                )
                .value(d.as_str()),
            );
            return Err(p);
        }
        Ok(Request {
            dims,
            filters: fils,
            rows,
            columns,
            hierarchy,
            skip_empty: true,
        })
    }

    /// The spec of a dimension, whether shown or filtered.
    pub fn spec(&self, id: DimId) -> Option<&DimSpec> {
        self.dims.iter().chain(&self.filters).find(|d| d.id == id)
    }
    pub fn is_filter(&self, id: DimId) -> bool {
        self.filters.iter().any(|d| d.id == id)
    }
}
