//! Data values as CSV: dantoc's own columns or DHIS2's CSV columns, recognised by the header.
//!
//! dantoc: `indicator,unit,period,disaggregation,value,comment,followup`
//! DHIS2:  `dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,lastupdated,comment,followup`
//!
//! UTF-8 (a BOM is skipped), `,` or `;` as delimiter, header required; text is NFC-normalised.

use crate::values::{RawValue, StoredValue, field};
use dantoc_domain::FieldError;
use dantoc_domain::text::clean;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

/// Where each field sits in the file (0-based column), from the header.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    indicator: Option<usize>,
    unit: Option<usize>,
    period: Option<usize>,
    disagg: Option<usize>,
    value: Option<usize>,
    comment: Option<usize>,
    followup: Option<usize>,
}

impl Layout {
    fn from_header(h: &csv::StringRecord) -> Result<Layout, FieldError> {
        let mut l = Layout::default();
        for (i, name) in h.iter().enumerate() {
            let n: String = dantoc_domain::text::fold(name).replace(' ', "");
            let slot = match n.as_str() {
                "indicator" | "dataelement" | "chitieu" | "machitieu" => &mut l.indicator,
                "unit" | "orgunit" | "donvi" | "madonvi" => &mut l.unit,
                "period" | "kybaocao" | "ky" => &mut l.period,
                "disaggregation" | "categoryoptioncombo" | "catoptcombo" | "phanto" => {
                    &mut l.disagg
                }
                "value" | "giatri" => &mut l.value,
                "comment" | "ghichu" => &mut l.comment,
                "followup" => &mut l.followup,
                _ => continue,
            };
            *slot = Some(i);
        }
        let mut missing = vec![];
        for (name, col) in [
            ("indicator (or dataelement)", l.indicator),
            ("unit (or orgunit)", l.unit),
            ("period", l.period),
            ("value", l.value),
        ] {
            if col.is_none() {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            Ok(l)
        } else {
            Err(FieldError::new(
                "header",
                format!("missing column(s): {}", missing.join(", ")),
            )
            .at(1, None))
        }
    }

    /// The 1-based column of a field named in an error.
    pub fn column_of(&self, f: &str) -> Option<u64> {
        let c = match f {
            field::INDICATOR => self.indicator,
            field::UNIT => self.unit,
            field::PERIOD => self.period,
            field::DISAGG => self.disagg,
            field::VALUE => self.value,
            field::COMMENT => self.comment,
            _ => None,
        };
        c.map(|c| c as u64 + 1)
    }
}

/// A CSV reader of values. Iterate it for the values; each error carries its row and column.
pub struct ValueReader<R: Read> {
    rdr: csv::Reader<R>,
    pub layout: Layout,
    /// Line of each record, by index (records may span lines when quoted).
    lines: Rc<RefCell<Vec<u64>>>,
    rec: csv::StringRecord,
    done: bool,
}

fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let commas = first_line.iter().filter(|b| **b == b',').count();
    let semis = first_line.iter().filter(|b| **b == b';').count();
    if semis > commas { b';' } else { b',' }
}

/// What the reader reads: the first line, already looked at, then the rest.
pub type Input<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// Open a CSV of values from bytes (whole file in memory) — see [`open`] for readers.
pub fn open<R: Read>(mut input: R) -> Result<ValueReader<Input<R>>, FieldError> {
    // read the first line to skip a BOM and find the delimiter
    let mut head = vec![];
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                head.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Err(e) => return Err(FieldError::new("file", format!("cannot read: {e}"))),
        }
    }
    if head.starts_with(&BOM) {
        head.drain(..3);
    }
    let delim = sniff_delimiter(&head);
    let rdr_in = std::io::Cursor::new(head).chain(input);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .from_reader(rdr_in);
    let header = rdr
        .headers()
        .map_err(|e| FieldError::new("header", format!("unreadable header: {e}")).at(1, None))?
        .clone();
    let layout = Layout::from_header(&header)?;
    Ok(ValueReader {
        rdr,
        layout,
        lines: Rc::default(),
        rec: csv::StringRecord::new(),
        done: false,
    })
}

impl<R: Read> ValueReader<R> {
    /// Something that puts row and column on errors about records, usable while the reader
    /// is being consumed.
    pub fn locator(&self) -> Locator {
        Locator {
            lines: self.lines.clone(),
            layout: self.layout.clone(),
        }
    }
}

pub struct Locator {
    lines: Rc<RefCell<Vec<u64>>>,
    layout: Layout,
}

impl Locator {
    /// The file row (1-based, header = 1) of record `i`.
    pub fn row_of(&self, i: usize) -> u64 {
        self.lines.borrow().get(i).copied().unwrap_or(i as u64 + 2)
    }

    /// Put row and column on an error about record `i`.
    pub fn locate(&self, i: usize, e: FieldError) -> FieldError {
        let col = self.layout.column_of(&e.field);
        e.at(self.row_of(i), col)
    }
}

/// [`clean`], quicker for the usual field: ASCII text is NFC already.
fn clean_field(s: &str) -> String {
    if s.is_ascii() {
        s.trim().to_string()
    } else {
        clean(s)
    }
}

impl<R: Read> Iterator for ValueReader<R> {
    type Item = Result<RawValue, FieldError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.rdr.read_record(&mut self.rec) {
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                self.lines.borrow_mut().push(line);
                let msg = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        "the file is not UTF-8 text (save it as CSV UTF-8)".to_string()
                    }
                    _ => format!("unreadable CSV: {e}"),
                };
                Some(Err(FieldError::new("file", msg)))
            }
            Ok(true) => {
                let line = self.rec.position().map(|p| p.line()).unwrap_or(0);
                self.lines.borrow_mut().push(line);
                let l = &self.layout;
                let get = |c: Option<usize>| c.and_then(|c| self.rec.get(c)).map(clean_field);
                let followup = match get(l.followup).as_deref() {
                    None | Some("") => None,
                    Some("true") | Some("1") => Some(true),
                    Some("false") | Some("0") => Some(false),
                    Some(o) => {
                        return Some(Err(
                            FieldError::new("followup", "expected true or false").value(o)
                        ));
                    }
                };
                Some(Ok(RawValue {
                    indicator: get(l.indicator).unwrap_or_default(),
                    unit: get(l.unit).unwrap_or_default(),
                    period: get(l.period).unwrap_or_default(),
                    disagg: get(l.disagg).unwrap_or_default(),
                    value: get(l.value),
                    comment: get(l.comment).filter(|s| !s.is_empty()),
                    followup,
                }))
            }
        }
    }
}

/// The UTF-8 byte order mark: Excel needs it to read Vietnamese from CSV.
pub(crate) const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A CSV writer that starts with the [`BOM`]; every export of dantoc uses it.
pub(crate) fn bom_writer<W: Write>(mut out: W) -> std::io::Result<csv::Writer<W>> {
    out.write_all(&BOM)?;
    Ok(csv::Writer::from_writer(out))
}

/// Write values as CSV in dantoc's columns, with a UTF-8 BOM so that Excel reads Vietnamese.
pub fn write<W: Write>(out: W, values: &[StoredValue]) -> std::io::Result<()> {
    let mut w = bom_writer(out)?;
    w.write_record([
        "indicator",
        "unit",
        "period",
        "disaggregation",
        "value",
        "comment",
        "followup",
        "stored_by",
        "last_updated",
        "demo",
        "source",
    ])?;
    for v in values {
        let unit = if v.unit_version == dantoc_domain::admin::HierarchyVersion::CURRENT.as_str() {
            v.unit.clone()
        } else {
            format!("{}@{}", v.unit, v.unit_version)
        };
        w.write_record([
            v.indicator.as_str(),
            &unit,
            &v.period,
            &v.disagg,
            &v.value_text,
            v.comment.as_deref().unwrap_or(""),
            if v.followup { "true" } else { "false" },
            &v.stored_by,
            &v.last_updated,
            if v.demo { "true" } else { "false" },
            v.source.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()?;
    Ok(())
}
