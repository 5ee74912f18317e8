//! The 54 ethnic groups.

use crate::db::{Conn, Row};
use crate::error::StoreError;
use crate::params;
use dantoc_domain::ethnic::{CodeList, EthnicGroup};

const SELECT: &str =
    "SELECT code_2008, code_1979, name, other_names, population_2019, minority FROM ethnic_group";

fn from_row(r: &Row) -> EthnicGroup {
    EthnicGroup {
        code_2008: r.str(0),
        code_1979: r.str(1),
        name: r.str(2),
        other_names: r
            .str(3)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        population_2019: r.opt_i64(4),
        minority: r.bool(5),
    }
}

/// All groups, ordered by their code in `list`.
pub fn list(c: &mut dyn Conn, list: CodeList) -> Result<Vec<EthnicGroup>, StoreError> {
    let order = match list {
        CodeList::Gso1979 => "code_1979",
        CodeList::Gso2008 => "code_2008",
    };
    Ok(c.query(&format!("{SELECT} ORDER BY {order}"), &[])?
        .iter()
        .map(from_row)
        .collect())
}

pub fn get(
    c: &mut dyn Conn,
    list: CodeList,
    code: &str,
) -> Result<Option<EthnicGroup>, StoreError> {
    let col = match list {
        CodeList::Gso1979 => "code_1979",
        CodeList::Gso2008 => "code_2008",
    };
    Ok(
        c.query_one(&format!("{SELECT} WHERE {col} = $1"), &params![code])?
            .map(|r| from_row(&r)),
    )
}

/// Groups whose name or other names contain every word of `q` (case and diacritics ignored).
pub fn search(c: &mut dyn Conn, q: &str) -> Result<Vec<EthnicGroup>, StoreError> {
    let (f, p) = crate::units::folded_filter(q, "name_folded");
    Ok(
        c.query(&format!("{SELECT} WHERE {f} ORDER BY code_2008"), &p)?
            .iter()
            .map(from_row)
            .collect(),
    )
}
